// Token store: tokens are 256-bit random strings shown once; rows hold their SHA-256 only.
// A token is valid while it and every ancestor are unexpired; revoking one revokes its
// non-orphan descendants.
// @see https://developer.hashicorp.com/vault/docs/concepts/tokens#token-hierarchies-and-orphan-tokens
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { tokens, type Token } from './schema.js';

/** Vault's default and maximum token TTL (32 days). */
export const DEFAULT_TOKEN_TTL = 768 * 3600;

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function newToken(): { token: string; accessor: string } {
  return { token: `hvs.${randomBytes(32).toString('base64url')}`, accessor: randomBytes(18).toString('base64url') };
}

interface NewTokenSpec {
  policies: string[];
  displayName: string;
  path: string;
  parentAccessor: string | null;
  ttlSeconds: number;
  explicitMaxTtlSeconds?: number;
  numUses?: number;
  renewable?: boolean;
  meta?: Record<string, string> | null;
}

/** Inserts a token; returns the clear token (to show once) and its row. */
export async function insertToken(db: Queryable, spec: NewTokenSpec): Promise<{ token: string; row: Token }> {
  const { token, accessor } = newToken();
  const [row] = await db
    .insert(tokens)
    .values({
      hash: hashToken(token),
      accessor,
      parentAccessor: spec.parentAccessor,
      orphan: spec.parentAccessor === null,
      policies: spec.policies,
      displayName: spec.displayName,
      path: spec.path,
      meta: spec.meta ?? null,
      ttlSeconds: spec.ttlSeconds,
      explicitMaxTtlSeconds: spec.explicitMaxTtlSeconds ?? 0,
      numUses: spec.numUses ?? 0,
      renewable: spec.renewable ?? spec.ttlSeconds > 0,
      expiresAt: spec.ttlSeconds > 0 ? sql`now() + make_interval(secs => ${spec.ttlSeconds})` : null,
    })
    .returning();
  return { token, row: row! };
}

type RawToken = {
  hash: Buffer; accessor: string; parent_accessor: string | null; policies: string[] | string; display_name: string;
  meta: Record<string, string> | null; orphan: boolean; renewable: boolean; ttl_seconds: number;
  explicit_max_ttl_seconds: number; num_uses: number; path: string; entity_id: string;
  created_at: Date | string; expires_at: Date | string | null; dead: boolean;
};

const toDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));

/** Postgres text[] literal from a raw row, for drivers that hand arrays back as text. */
function textArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  const inner = v.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((x) => x.replace(/^"|"$/g, ''));
}

function fromRaw(r: RawToken): Token {
  return {
    hash: Buffer.from(r.hash),
    accessor: r.accessor,
    parentAccessor: r.parent_accessor,
    policies: textArray(r.policies),
    displayName: r.display_name,
    meta: r.meta,
    orphan: r.orphan,
    renewable: r.renewable,
    ttlSeconds: Number(r.ttl_seconds),
    explicitMaxTtlSeconds: Number(r.explicit_max_ttl_seconds),
    numUses: Number(r.num_uses),
    path: r.path,
    entityId: r.entity_id,
    createdAt: toDate(r.created_at),
    expiresAt: r.expires_at === null ? null : toDate(r.expires_at),
  };
}

/**
 * Finds the live token for `token`: unexpired, every ancestor unexpired, uses left.
 * Consumes one use of a limited token; the last use deletes it and its children (Vault
 * revokes a token whose use count reaches zero). One round trip for unlimited tokens.
 */
export async function useToken(db: Queryable, token: string): Promise<Token | undefined> {
  const hash = hashToken(token);
  const [raw] = rowsOf<RawToken>(
    await db.execute(sql`
      with recursive chain(accessor, parent_accessor, expires_at, depth) as (
        select accessor, parent_accessor, expires_at, 0 from vault.tokens where hash = ${hash}
        union all
        select p.accessor, p.parent_accessor, p.expires_at, c.depth + 1
        from vault.tokens p join chain c on p.accessor = c.parent_accessor where c.depth < 64
      )
      select t.*, (select coalesce(bool_or(expires_at is not null and expires_at <= now()), false) from chain) as dead
      from vault.tokens t where t.hash = ${hash}`),
  );
  if (!raw) return undefined;
  const row = fromRaw(raw);
  if (raw.dead) {
    await revokeTree(db, row.accessor);
    return undefined;
  }
  if (row.numUses === 0) return row;
  const [decremented] = await db
    .update(tokens)
    .set({ numUses: sql`${tokens.numUses} - 1` })
    .where(and(eq(tokens.hash, hash), gt(tokens.numUses, 1)))
    .returning();
  if (decremented) return decremented;
  // Last use: whoever deletes the row is served; a concurrent caller finds nothing.
  const [last] = await db.delete(tokens).where(and(eq(tokens.hash, hash), eq(tokens.numUses, 1))).returning();
  if (!last) return undefined;
  await revokeTree(db, last.accessor);
  return { ...last, numUses: 0 };
}

/** Deletes a token and its non-orphan descendants (orphans have no parent link); returns the count. */
export async function revokeTree(db: Queryable, accessor: string): Promise<number> {
  const rows = rowsOf<{ accessor: string }>(
    await db.execute(sql`
      with recursive tree(accessor, depth) as (
        select ${accessor}::text, 0
        union all
        select t.accessor, tree.depth + 1 from vault.tokens t join tree on t.parent_accessor = tree.accessor
        where tree.depth < 64
      )
      delete from vault.tokens where accessor in (select accessor from tree) returning accessor`),
  );
  return rows.length;
}

/** Extends a token's expiry by `increment` seconds from now, never beyond its explicit max TTL. */
export async function renewToken(db: Queryable, row: Token, increment: number): Promise<Token> {
  let ttl = increment > 0 ? increment : row.ttlSeconds;
  if (row.explicitMaxTtlSeconds > 0) {
    const maxEnd = row.createdAt.getTime() + row.explicitMaxTtlSeconds * 1000;
    ttl = Math.max(0, Math.min(ttl, Math.floor((maxEnd - Date.now()) / 1000)));
  }
  const [updated] = await db
    .update(tokens)
    .set({ expiresAt: sql`now() + make_interval(secs => ${ttl})` })
    .where(eq(tokens.accessor, row.accessor))
    .returning();
  return updated ?? row;
}

/** Seconds left before expiry (0 for tokens that never expire). */
export function remainingTtl(row: Token, now = Date.now()): number {
  if (!row.expiresAt) return 0;
  return Math.max(0, Math.floor((row.expiresAt.getTime() - now) / 1000));
}
