// User queries: lookup by username or email within one tenant, profile claims, pages.
import { and, eq, gt, or, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { users, type User } from './schema.js';

export interface NewUserInput {
  username: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  externalId?: string | undefined;
  passwordHash?: string | undefined;
  active?: boolean | undefined;
}

export const normaliseUsername = (u: string) => u.trim().toLowerCase();

export async function insertUser(q: Queryable, tenantId: string, input: NewUserInput): Promise<User | undefined> {
  const email = input.email?.trim();
  const [row] = await q
    .insert(users)
    .values({
      tenantId,
      username: normaliseUsername(input.username),
      email: email ?? null,
      emailVerified: input.emailVerified ?? false,
      emails: email ? [{ value: email, type: 'work', primary: true }] : [],
      name: input.name ?? null,
      givenName: input.givenName ?? null,
      familyName: input.familyName ?? null,
      externalId: input.externalId ?? null,
      passwordHash: input.passwordHash ?? null,
      active: input.active ?? true,
    })
    .onConflictDoNothing()
    .returning();
  return row;
}

/** Finds a user of the tenant by username, or by email when exactly one user has it. */
export async function findUserByLogin(q: Queryable, tenantId: string, login: string): Promise<User | undefined> {
  const name = normaliseUsername(login);
  if (!name || name.length > 256) return undefined;
  const rows = await q
    .select()
    .from(users)
    .where(and(eq(users.tenantId, tenantId), or(eq(users.username, name), sql`lower(${users.email}) = ${name}`)))
    .limit(3);
  return rows.find((u) => u.username === name) ?? (rows.length === 1 ? rows[0] : undefined);
}

export async function findUserById(q: Queryable, tenantId: string, id: string): Promise<User | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await q.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).limit(1);
  return row;
}

/**
 * One page of a tenant's users in username order, after `after` (keyset pagination: stable while
 * users are added or removed, and as cheap on the last page as on the first).
 */
export async function listUsers(q: Queryable, tenantId: string, page: { after?: string | undefined; limit: number } = { limit: 100 }): Promise<User[]> {
  const where = page.after === undefined ? eq(users.tenantId, tenantId) : and(eq(users.tenantId, tenantId), gt(users.username, page.after));
  return q.select().from(users).where(where).orderBy(users.username).limit(page.limit);
}

export async function updateUser(q: Queryable, tenantId: string, id: string, patch: Partial<Pick<User, 'active' | 'passwordHash' | 'name' | 'email' | 'emailVerified'>>): Promise<User | undefined> {
  const [row] = await q
    .update(users)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
    .returning();
  return row;
}

export async function deleteUser(q: Queryable, tenantId: string, id: string): Promise<User | undefined> {
  const [row] = await q.delete(users).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).returning();
  return row;
}

/**
 * The claims a user releases for the granted scopes (OIDC Core §5.4).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims
 */
export function userClaims(user: User, scopes: readonly string[], groups: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { sub: user.id };
  if (scopes.includes('profile')) {
    out.preferred_username = user.username;
    if (user.name) out.name = user.name;
    if (user.givenName) out.given_name = user.givenName;
    if (user.familyName) out.family_name = user.familyName;
    out.updated_at = Math.floor(user.updatedAt.getTime() / 1000);
  }
  if (scopes.includes('email') && user.email) {
    out.email = user.email;
    out.email_verified = user.emailVerified;
  }
  if (scopes.includes('groups') && groups) out.groups = groups;
  return out;
}
