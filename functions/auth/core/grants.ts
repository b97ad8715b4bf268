// Authorization codes, token families (grants) and refresh tokens: single-use codes, rotation with
// reuse detection, and revocation of everything a grant issued.
import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import {
  authorizationCodes,
  refreshTokens,
  revokedAccessTokens,
  tokenFamilies,
  type AuthorizationCode,
  type TokenFamily,
} from './schema.js';

/** Codes live 60 s (RFC 6749 §4.1.2 recommends at most 10 minutes). */
const CODE_TTL_SECONDS = 60;

export async function insertCode(q: Queryable, values: Omit<typeof authorizationCodes.$inferInsert, 'codeHash' | 'expiresAt'>): Promise<string> {
  const code = randomHandle(32);
  await q.insert(authorizationCodes).values({
    ...values,
    codeHash: sha256Hex(code),
    expiresAt: sql`now() + make_interval(secs => ${CODE_TTL_SECONDS})`,
  });
  return code;
}

type CodeRedemption =
  | { status: 'ok'; code: AuthorizationCode }
  | { status: 'reused'; code: AuthorizationCode }
  | { status: 'expired' | 'unknown' };

/**
 * Marks the code used, atomically: of two concurrent redemptions exactly one gets `ok`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 "If an authorization code is used
 * more than once, the authorization server MUST deny the request and SHOULD revoke (when
 * possible) all tokens previously issued based on that authorization code."
 */
export async function redeemCode(q: Queryable, tenantId: string, code: string): Promise<CodeRedemption> {
  const hash = sha256Hex(code);
  const [won] = await q
    .update(authorizationCodes)
    .set({ consumedAt: sql`now()` })
    .where(and(eq(authorizationCodes.codeHash, hash), eq(authorizationCodes.tenantId, tenantId), isNull(authorizationCodes.consumedAt)))
    .returning();
  if (won) return won.expiresAt.getTime() < Date.now() ? { status: 'expired' } : { status: 'ok', code: won };
  const [seen] = await q
    .select()
    .from(authorizationCodes)
    .where(and(eq(authorizationCodes.codeHash, hash), eq(authorizationCodes.tenantId, tenantId)));
  return seen ? { status: 'reused', code: seen } : { status: 'unknown' };
}

export async function revokeFamiliesOfCode(q: Queryable, tenantId: string, codeHash: string, reason: string): Promise<number> {
  const rows = await q
    .update(tokenFamilies)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(and(eq(tokenFamilies.tenantId, tenantId), eq(tokenFamilies.codeHash, codeHash), isNull(tokenFamilies.revokedAt)))
    .returning({ id: tokenFamilies.id });
  return rows.length;
}

export async function createFamily(q: Queryable, values: typeof tokenFamilies.$inferInsert): Promise<TokenFamily> {
  const [row] = await q.insert(tokenFamilies).values(values).returning();
  return row!;
}

export async function issueRefreshToken(q: Queryable, family: TokenFamily, ttlSeconds: number): Promise<string> {
  const token = randomHandle(32);
  await q.insert(refreshTokens).values({
    tokenHash: sha256Hex(token),
    familyId: family.id,
    tenantId: family.tenantId,
    expiresAt: sql`now() + make_interval(secs => ${ttlSeconds})`,
  });
  return token;
}

type RefreshUse =
  | { status: 'ok'; family: TokenFamily; graced?: true }
  | { status: 'reused'; family: TokenFamily }
  | { status: 'invalid' };

/**
 * Rotates a refresh token: marks it used atomically and returns its family. A token already
 * used is reuse (RFC 9700 §4.14.2): the caller revokes the family; except when its own client
 * presents it again within `grace.seconds` of its first use (a retry after a lost response, as
 * Okta's grace period and Auth0's reuse interval allow), which rotates again from it.
 */
export async function useRefreshToken(q: Queryable, tenantId: string, token: string, grace: { clientId: string; seconds: number } = { clientId: '', seconds: 0 }): Promise<RefreshUse> {
  const hash = sha256Hex(token);
  const [won] = await q
    .update(refreshTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(refreshTokens.tokenHash, hash), eq(refreshTokens.tenantId, tenantId), isNull(refreshTokens.usedAt)))
    .returning();
  const [row] = won
    ? [{ ...won, inGrace: false }]
    : await q
        .select({ ...getTableColumns(refreshTokens), inGrace: sql<boolean>`${refreshTokens.usedAt} > now() - make_interval(secs => ${grace.seconds})` })
        .from(refreshTokens)
        .where(and(eq(refreshTokens.tokenHash, hash), eq(refreshTokens.tenantId, tenantId)));
  if (!row) return { status: 'invalid' };
  const [family] = await q.select().from(tokenFamilies).where(eq(tokenFamilies.id, row.familyId));
  if (!family) return { status: 'invalid' };
  const live = !family.revokedAt && row.expiresAt.getTime() >= Date.now();
  if (!won) {
    if (grace.seconds > 0 && row.inGrace && live && family.clientId === grace.clientId) return { status: 'ok', family, graced: true };
    return { status: 'reused', family };
  }
  if (!live) return { status: 'invalid' };
  return { status: 'ok', family };
}

/** Looks a refresh token up without using it (introspection, revocation). */
export async function findRefreshToken(q: Queryable, tenantId: string, token: string) {
  const [row] = await q
    .select({ token: refreshTokens, family: tokenFamilies })
    .from(refreshTokens)
    .innerJoin(tokenFamilies, eq(tokenFamilies.id, refreshTokens.familyId))
    .where(and(eq(refreshTokens.tokenHash, sha256Hex(token)), eq(refreshTokens.tenantId, tenantId)));
  return row;
}

export async function revokeFamily(q: Queryable, familyId: string, reason: string): Promise<boolean> {
  const rows = await q
    .update(tokenFamilies)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(and(eq(tokenFamilies.id, familyId), isNull(tokenFamilies.revokedAt)))
    .returning({ id: tokenFamilies.id });
  return rows.length > 0;
}

export async function revokeAccessToken(q: Queryable, tenantId: string, jti: string, expiresAt: number): Promise<void> {
  await q
    .insert(revokedAccessTokens)
    .values({ jti, tenantId, expiresAt: new Date(expiresAt * 1000) })
    .onConflictDoNothing();
}

/**
 * True when the access token can no longer be honoured, in one round trip: its jti was revoked,
 * its grant (family) was revoked or no longer exists (deleting a user or a client cascades to
 * its families, and a missing family must not read as "not revoked"), or its client is gone.
 * A `gid` that is not a UUID names no grant of ours, so it reads as revoked too.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2 "active ... this is a boolean value
 * of whether or not the presented token is currently active"
 */
export async function isAccessTokenRevoked(q: Queryable, tenantId: string, jti: string, grantId: string | undefined, clientId: string): Promise<boolean> {
  if (grantId !== undefined && !/^[0-9a-f-]{36}$/i.test(grantId)) return true;
  const gid = grantId ?? null;
  const rows = rowsOf<{ revoked: boolean }>(
    await q.execute(sql`select
      exists (select 1 from auth.revoked_access_tokens where jti = ${jti} and tenant_id = ${tenantId})
      or (${gid}::uuid is not null and not exists (select 1 from auth.token_families
            where id = ${gid}::uuid and tenant_id = ${tenantId} and revoked_at is null))
      or not exists (select 1 from auth.clients where tenant_id = ${tenantId} and client_id = ${clientId}) as revoked`),
  );
  return rows[0]?.revoked !== false;
}

/** Sessions and grants are kept this long after they ended, for the audit of what they did. */
const ENDED_RETENTION_DAYS = 30;

/**
 * Deletes rows that can no longer be used: codes, device codes, pushed and pending requests,
 * client-assertion and DPoP proof jtis, revocation marks, refresh tokens and WebAuthn challenges past their expiry; sessions and revoked grants
 * ENDED_RETENTION_DAYS after they ended. The audit trail is never pruned here.
 */
export async function pruneExpired(q: Queryable): Promise<Record<string, number>> {
  const n = async (statement: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await q.execute(statement))[0]?.n ?? 0;
  const days = ENDED_RETENTION_DAYS;
  return {
    codes: await n(sql`with d as (delete from auth.authorization_codes where expires_at < now() - interval '1 day' returning 1) select count(*)::int as n from d`),
    interactions: await n(sql`with d as (delete from auth.interactions where expires_at < now() returning 1) select count(*)::int as n from d`),
    deviceCodes: await n(sql`with d as (delete from auth.device_codes where expires_at < now() - interval '1 day' returning 1) select count(*)::int as n from d`),
    dpopProofJtis: await n(sql`with d as (delete from auth.dpop_proof_jtis where expires_at < now() returning 1) select count(*)::int as n from d`),
    assertionJtis: await n(sql`with d as (delete from auth.client_assertion_jtis where expires_at < now() returning 1) select count(*)::int as n from d`),
    revokedAccessTokens: await n(sql`with d as (delete from auth.revoked_access_tokens where expires_at < now() returning 1) select count(*)::int as n from d`),
    refreshTokens: await n(sql`with d as (delete from auth.refresh_tokens where expires_at < now() returning 1) select count(*)::int as n from d`),
    webauthnChallenges: await n(sql`with d as (delete from auth.webauthn_challenges where expires_at < now() returning 1) select count(*)::int as n from d`),
    // Spent or expired links are kept a day (the hourly send limits count them), then go.
    passwordResets: await n(sql`with d as (delete from auth.password_resets where expires_at < now() - interval '1 day' returning 1) select count(*)::int as n from d`),
    emailConfirmations: await n(sql`with d as (delete from auth.email_confirmations where expires_at < now() - interval '1 day' returning 1) select count(*)::int as n from d`),
    signupInvites: await n(sql`with d as (delete from auth.signup_invites where expires_at < now() - interval '1 day' returning 1) select count(*)::int as n from d`),
    sessions: await n(sql`with d as (delete from auth.sessions where coalesce(revoked_at, expires_at) < now() - make_interval(days => ${days}) returning 1) select count(*)::int as n from d`),
    families: await n(sql`with d as (delete from auth.token_families f where f.revoked_at < now() - make_interval(days => ${days})
      and not exists (select 1 from auth.refresh_tokens r where r.family_id = f.id) returning 1) select count(*)::int as n from d`),
  };
}
