// Long-lived SCIM bearer tokens of a tenant (what Entra ID and Okta provisioning take): minted
// once, stored as SHA-256 of the secret, checked by id then a constant-time comparison.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { isUuid } from './groups.js';
import { scimTokens } from './schema.js';

const PREFIX = 'zscim_';
const sha256 = (s: string) => createHash('sha256').update(s).digest();
/** Compared against when no row matches, so a wrong id costs what a wrong secret costs. */
const DUMMY = sha256('no such token');

interface MintedScimToken {
  id: string;
  name: string;
  /** `zscim_<id>.<secret>`: shown once. */
  token: string;
}

export async function mintScimToken(q: Queryable, tenantId: string, name: string): Promise<MintedScimToken> {
  const secret = randomBytes(32).toString('base64url');
  const [row] = await q.insert(scimTokens).values({ tenantId, name, secretHash: sha256(secret).toString('hex') }).returning({ id: scimTokens.id });
  return { id: row!.id, name, token: `${PREFIX}${row!.id}.${secret}` };
}

/** True when `token` looks like one of ours (so the caller need not try it as a JWT). */
export const isScimToken = (token: string) => token.startsWith(PREFIX);

/** The token's id when it is a live SCIM token of `tenantId`; undefined otherwise. */
export async function verifyScimToken(q: Queryable, tenantId: string, token: string): Promise<string | undefined> {
  const m = /^zscim_([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
  const id = m && isUuid(m[1]!) ? m[1]! : undefined;
  const [row] = id
    ? await q.select({ secretHash: scimTokens.secretHash }).from(scimTokens).where(and(eq(scimTokens.id, id), eq(scimTokens.tenantId, tenantId), isNull(scimTokens.revokedAt))).limit(1)
    : [];
  const presented = sha256(m?.[2] ?? '');
  const stored = row ? Buffer.from(row.secretHash, 'hex') : DUMMY;
  const ok = stored.length === presented.length && timingSafeEqual(stored, presented) && row !== undefined;
  if (!ok) return undefined;
  // Last use, to the minute: one write a minute per token at most.
  await q.update(scimTokens).set({ lastUsedAt: sql`now()` }).where(and(eq(scimTokens.id, id!), sql`(${scimTokens.lastUsedAt} is null or ${scimTokens.lastUsedAt} < now() - interval '1 minute')`));
  return id;
}

export async function listScimTokens(q: Queryable, tenantId: string) {
  return q
    .select({ id: scimTokens.id, name: scimTokens.name, createdAt: scimTokens.createdAt, lastUsedAt: scimTokens.lastUsedAt, revokedAt: scimTokens.revokedAt })
    .from(scimTokens)
    .where(eq(scimTokens.tenantId, tenantId))
    .orderBy(scimTokens.createdAt);
}

export async function revokeScimToken(q: Queryable, tenantId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await q.update(scimTokens).set({ revokedAt: sql`now()` }).where(and(eq(scimTokens.id, id), eq(scimTokens.tenantId, tenantId), isNull(scimTokens.revokedAt))).returning({ id: scimTokens.id });
  return rows.length > 0;
}
