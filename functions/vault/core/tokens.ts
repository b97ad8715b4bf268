// Token store: tokens are 256-bit random strings shown once; rows hold their SHA-256 only.
// A token is valid while it and every ancestor exist and are unexpired; revoking one revokes its
// non-orphan descendants at any depth; renewal never passes its max TTL.
// @see https://developer.hashicorp.com/vault/docs/concepts/tokens#token-hierarchies-and-orphan-tokens
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, sql, type SQL } from 'drizzle-orm';
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
  /** Periodic token: renewals reset its TTL to this (seconds). */
  periodSeconds?: number;
  /** The token role it is created under. */
  role?: string;
  /** `token_bound_cidrs`: the token is refused from any other address. */
  boundCidrs?: string[];
}

interface NewToken {
  token: string;
  row: Token;
}

/**
 * Inserts a token; returns the clear token (to show once) and its row. A child is inserted only
 * while its parent row exists: the parent is locked FOR SHARE in the same statement, so a
 * concurrent revocation (which deletes the parent) either runs first and the child is refused
 * (`undefined`), or waits for the child to commit and then finds it.
 */
export async function insertToken(db: Queryable, spec: NewTokenSpec & { parentAccessor: null }): Promise<NewToken>;
export async function insertToken(db: Queryable, spec: NewTokenSpec): Promise<NewToken | undefined>;
export async function insertToken(db: Queryable, spec: NewTokenSpec): Promise<NewToken | undefined> {
  const { token, accessor } = newToken();
  const parent = spec.parentAccessor;
  const source =
    parent === null ? sql`(select 1) as src` : sql`(select 1 from vault.tokens where accessor = ${parent} for share) as src`;
  const meta = spec.meta ? JSON.stringify(spec.meta) : null;
  const [raw] = rowsOf<RawToken>(
    await db.execute(sql`
      insert into vault.tokens (hash, accessor, parent_accessor, orphan, policies, display_name, path, meta,
        ttl_seconds, explicit_max_ttl_seconds, num_uses, renewable, expires_at, period_seconds, role, bound_cidrs)
      select ${hashToken(token)}, ${accessor}, ${parent}::text, ${parent === null},
        array(select jsonb_array_elements_text(${JSON.stringify(spec.policies)}::jsonb)), ${spec.displayName},
        ${spec.path}, ${meta}::jsonb, ${spec.ttlSeconds}::int, ${spec.explicitMaxTtlSeconds ?? 0}::int,
        ${spec.numUses ?? 0}::int, ${spec.renewable ?? spec.ttlSeconds > 0},
        case when ${spec.ttlSeconds}::int > 0 then now() + make_interval(secs => ${spec.ttlSeconds}::int) end,
        ${spec.periodSeconds ?? 0}::int, ${spec.role ?? ''},
        array(select jsonb_array_elements_text(${JSON.stringify(spec.boundCidrs ?? [])}::jsonb))
      from ${source}
      returning *`),
  );
  return raw ? { token, row: fromRaw(raw) } : undefined;
}

type RawToken = {
  hash: Buffer; accessor: string; parent_accessor: string | null; policies: string[] | string; display_name: string;
  meta: Record<string, string> | null; orphan: boolean; renewable: boolean; ttl_seconds: number;
  explicit_max_ttl_seconds: number; num_uses: number; path: string; entity_id: string;
  created_at: Date | string; expires_at: Date | string | null; dead: boolean;
  period_seconds: number; role: string; bound_cidrs: string[] | string | null;
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
    periodSeconds: Number(r.period_seconds ?? 0),
    role: r.role ?? '',
    boundCidrs: r.bound_cidrs === null || r.bound_cidrs === undefined ? [] : textArray(r.bound_cidrs),
  };
}

/**
 * The token row matching `where` if it is live: unexpired, and every ancestor present and
 * unexpired at any depth. A dead token is revoked (with its tree) and not returned.
 */
async function liveToken(db: Queryable, where: SQL): Promise<Token | undefined> {
  const [raw] = rowsOf<RawToken>(
    await db.execute(sql`
      with recursive chain(accessor, parent_accessor, expires_at) as (
        select accessor, parent_accessor, expires_at from vault.tokens where ${where}
        union
        select p.accessor, p.parent_accessor, p.expires_at
        from vault.tokens p join chain c on p.accessor = c.parent_accessor
      )
      select t.*, (
        (select coalesce(bool_or(expires_at is not null and expires_at <= now()), false) from chain)
        or exists (select 1 from chain c where c.parent_accessor is not null
                   and not exists (select 1 from chain p where p.accessor = c.parent_accessor))
      ) as dead
      from vault.tokens t where ${where}`),
  );
  if (!raw) return undefined;
  const row = fromRaw(raw);
  if (raw.dead) {
    await revokeTree(db, row.accessor);
    return undefined;
  }
  return row;
}

/**
 * Finds the live token for `token`, as its caller presents it: consumes one use of a limited
 * token; the last use deletes it and its children (Vault revokes a token whose use count reaches
 * zero). One round trip for unlimited tokens.
 */
export async function useToken(db: Queryable, token: string): Promise<Token | undefined> {
  const hash = hashToken(token);
  const row = await liveToken(db, sql`hash = ${hash}`);
  if (!row || row.numUses === 0) return row;
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

/**
 * Finds the live token for `token` on behalf of another caller (lookup, revoke): spends none of
 * its uses, as Vault counts only the calling token's own use.
 */
export async function peekToken(db: Queryable, token: string): Promise<Token | undefined> {
  return liveToken(db, sql`hash = ${hashToken(token)}`);
}

/** The live token with this accessor, its uses unspent. */
export async function peekAccessor(db: Queryable, accessor: string): Promise<Token | undefined> {
  return liveToken(db, sql`accessor = ${accessor}`);
}

/**
 * Deletes a token and its non-orphan descendants at any depth (orphans have no parent link);
 * returns the count. Deletes a level per statement, each from a fresh snapshot: a child being
 * created under a row of the tree holds that row FOR SHARE, so the delete of the row waits for
 * it and the next level's statement finds the child. Give it a transaction to make it atomic.
 */
export async function revokeTree(db: Queryable, accessor: string): Promise<number> {
  let count = 0;
  let level = rowsOf<{ accessor: string }>(
    await db.execute(sql`delete from vault.tokens where accessor = ${accessor} returning accessor`),
  ).map((r) => r.accessor);
  // The children of the accessor even if its own row was already gone (a retried revocation).
  let frontier = [accessor];
  count += level.length;
  while (frontier.length > 0) {
    level = rowsOf<{ accessor: string }>(
      await db.execute(sql`
        delete from vault.tokens
        where parent_accessor = any(array(select jsonb_array_elements_text(${JSON.stringify(frontier)}::jsonb)))
        returning accessor`),
    ).map((r) => r.accessor);
    count += level.length;
    frontier = level;
  }
  return count;
}

/** A renewal's outcome: the row, and Vault's warning when the max TTL capped the increment. */
interface Renewal {
  row: Token;
  warning?: string;
}

/**
 * Extends a token's expiry to `increment` seconds from now (its TTL when 0), never beyond its
 * creation plus its max TTL: the explicit max when set (bounded by the system max), else the
 * system max. A token at its max keeps its expiry, and the warning says so.
 * @see https://developer.hashicorp.com/vault/docs/concepts/tokens#token-time-to-live-periodic-tokens-and-explicit-max-ttls
 */
export async function renewToken(db: Queryable, row: Token, increment: number): Promise<Renewal> {
  if (row.periodSeconds > 0) return renewPeriodic(db, row);
  const ttl = increment > 0 ? increment : row.ttlSeconds;
  const maxTtl = row.explicitMaxTtlSeconds > 0 ? Math.min(row.explicitMaxTtlSeconds, DEFAULT_TOKEN_TTL) : DEFAULT_TOKEN_TTL;
  const [raw] = rowsOf<RawToken & { capped: boolean; max_left: number }>(
    await db.execute(sql`
      update vault.tokens set expires_at = least(now() + make_interval(secs => ${ttl}::int),
                                                 created_at + make_interval(secs => ${maxTtl}::int))
      where accessor = ${row.accessor}
      returning *, now() + make_interval(secs => ${ttl}::int) > created_at + make_interval(secs => ${maxTtl}::int) as capped,
        greatest(0, floor(extract(epoch from created_at + make_interval(secs => ${maxTtl}::int) - now())))::int as max_left`),
  );
  if (!raw) return { row };
  const renewed = fromRaw(raw);
  if (!raw.capped) return { row: renewed };
  return {
    row: renewed,
    warning: `TTL of "${ttl}s" exceeded the effective max_ttl of "${Number(raw.max_left)}s"; TTL value is capped accordingly`,
  };
}

/**
 * A periodic token's renewal: the TTL is reset to the period whatever the increment, with no max
 * TTL, unless an explicit max TTL was set, which then still bounds it.
 * @see https://developer.hashicorp.com/vault/docs/concepts/tokens#periodic-tokens
 */
async function renewPeriodic(db: Queryable, row: Token): Promise<Renewal> {
  const period = row.periodSeconds;
  const explicit = row.explicitMaxTtlSeconds;
  const [raw] = rowsOf<RawToken & { capped: boolean; max_left: number }>(
    await db.execute(sql`
      update vault.tokens set expires_at = case when ${explicit}::int > 0
          then least(now() + make_interval(secs => ${period}::int), created_at + make_interval(secs => ${explicit}::int))
          else now() + make_interval(secs => ${period}::int) end
      where accessor = ${row.accessor}
      returning *, ${explicit}::int > 0 and now() + make_interval(secs => ${period}::int) > created_at + make_interval(secs => ${explicit}::int) as capped,
        greatest(0, floor(extract(epoch from created_at + make_interval(secs => ${explicit}::int) - now())))::int as max_left`),
  );
  if (!raw) return { row };
  const renewed = fromRaw(raw);
  if (!raw.capped) return { row: renewed };
  return {
    row: renewed,
    warning: `TTL of "${period}s" exceeded the effective max_ttl of "${Number(raw.max_left)}s"; TTL value is capped accordingly`,
  };
}

/** Seconds left before expiry (0 for tokens that never expire). */
export function remainingTtl(row: Token, now = Date.now()): number {
  if (!row.expiresAt) return 0;
  return Math.max(0, Math.floor((row.expiresAt.getTime() - now) / 1000));
}
