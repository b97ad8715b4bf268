// Browser sessions: the cookie carries a 256-bit random value, the row its SHA-256 plus the
// device it came from (user agent, IP, first and last seen), so users and admins can list and
// revoke them.
import { and, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import { sessions, tokenFamilies, users, type Session, type User } from './schema.js';

export const SESSION_TTL_SECONDS = 86_400;

interface NewSession {
  tenantId: string;
  userId: string;
  acr: string;
  amr: string[];
  userAgent: string | undefined;
  ip: string | undefined;
  /** SHA-256 of the device cookie. */
  deviceHash?: string | undefined;
  /** What the user signed in with, in words. */
  authenticator?: string | undefined;
}

export async function createSession(q: Queryable, s: NewSession): Promise<{ session: Session; secret: string }> {
  const secret = randomHandle(32);
  const [session] = await q
    .insert(sessions)
    .values({
      tenantId: s.tenantId,
      userId: s.userId,
      secretHash: sha256Hex(secret),
      authTime: sql`now()`,
      acr: s.acr,
      amr: s.amr,
      userAgent: s.userAgent?.slice(0, 512) ?? null,
      ip: s.ip ?? null,
      deviceHash: s.deviceHash ?? null,
      authenticator: s.authenticator?.slice(0, 128) ?? null,
      expiresAt: sql`now() + make_interval(secs => ${SESSION_TTL_SECONDS})`,
    })
    .returning();
  return { session: session!, secret };
}

/** The live session of `tenant` for a cookie value, with its (active) user; touches last-seen. */
export async function findLiveSession(q: Queryable, tenantId: string, secret: string | undefined): Promise<{ session: Session; user: User } | undefined> {
  if (!secret || secret.length > 100) return undefined;
  const [row] = await q
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.secretHash, sha256Hex(secret)), eq(sessions.tenantId, tenantId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`), eq(users.active, true)));
  if (!row) return undefined;
  if (Date.now() - row.session.lastSeenAt.getTime() > 60_000) {
    await q.update(sessions).set({ lastSeenAt: sql`now()` }).where(eq(sessions.id, row.session.id));
  }
  return row;
}

/**
 * Ends the grants a session started: signing out of a device also revokes the refresh tokens (and
 * so the access tokens) issued to applications through it.
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
async function revokeSessionGrants(q: Queryable, tenantId: string, sessionIds: string[]): Promise<void> {
  if (!sessionIds.length) return;
  await q
    .update(tokenFamilies)
    .set({ revokedAt: sql`now()`, revokedReason: 'session_ended' })
    .where(and(eq(tokenFamilies.tenantId, tenantId), inArray(tokenFamilies.sessionId, sessionIds), isNull(tokenFamilies.revokedAt)));
}

export async function revokeSession(q: Queryable, tenantId: string, id: string): Promise<Session | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await q
    .update(sessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.id, id), eq(sessions.tenantId, tenantId), isNull(sessions.revokedAt)))
    .returning();
  if (row) await revokeSessionGrants(q, tenantId, [row.id]);
  return row;
}

export async function listSessions(q: Queryable, tenantId: string, userId?: string): Promise<Session[]> {
  const live = and(eq(sessions.tenantId, tenantId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`));
  return q
    .select()
    .from(sessions)
    .where(userId ? and(live, eq(sessions.userId, userId)) : live)
    .orderBy(sessions.lastSeenAt)
    .limit(1000);
}

/**
 * One page of a tenant's live sessions (or one user's), in id order, which a session's use does
 * not change: `after` is the last id of the previous page.
 */
export async function listSessionPage(q: Queryable, tenantId: string, page: { userId?: string | undefined; after?: string | undefined; limit: number }): Promise<Session[]> {
  return q
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.tenantId, tenantId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
        page.userId ? eq(sessions.userId, page.userId) : undefined,
        page.after ? gt(sessions.id, page.after) : undefined,
      ),
    )
    .orderBy(sessions.id)
    .limit(page.limit);
}

/** Revokes every live session of a user but `keep` (none: all; account disabled, password reset), with their grants. */
export async function revokeUserSessions(q: Queryable, tenantId: string, userId: string, keep?: string): Promise<string[]> {
  const rows = await q
    .update(sessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.tenantId, tenantId), eq(sessions.userId, userId), isNull(sessions.revokedAt), keep ? ne(sessions.id, keep) : undefined))
    .returning({ id: sessions.id });
  const ids = rows.map((r) => r.id);
  await revokeSessionGrants(q, tenantId, ids);
  return ids;
}
