// JSON views of admin resources: never a password hash, secret hash or sealed key.
import type { Session, Tenant, User } from '../core/schema.js';

export const tenantView = (t: Tenant) => ({ slug: t.slug, displayName: t.displayName, createdAt: t.createdAt.toISOString() });

export const userView = (u: User) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  emailVerified: u.emailVerified,
  name: u.name,
  givenName: u.givenName,
  familyName: u.familyName,
  externalId: u.externalId,
  active: u.active,
  hasPassword: u.passwordHash !== null,
  createdAt: u.createdAt.toISOString(),
  updatedAt: u.updatedAt.toISOString(),
});

export const sessionView = (s: Session) => ({
  id: s.id,
  userId: s.userId,
  userAgent: s.userAgent,
  ip: s.ip,
  authTime: s.authTime.toISOString(),
  firstSeen: s.createdAt.toISOString(),
  lastSeen: s.lastSeenAt.toISOString(),
  expiresAt: s.expiresAt.toISOString(),
  amr: s.amr,
});
