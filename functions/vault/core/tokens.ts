// Token store: tokens are 256-bit random strings shown once; rows hold their SHA-256 only, and a
// MAC over every field that grants or limits access (a row the vault did not write is refused).
// A token is valid while it and every ancestor exist and are unexpired; revoking one revokes its
// non-orphan descendants at any depth; renewal never passes its max TTL.
// @see https://developer.hashicorp.com/vault/docs/concepts/tokens#token-hierarchies-and-orphan-tokens
import { createHash, randomBytes } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { withSeq, type MacValue, type RowMac } from './integrity.js';
import type { Token } from './schema.js';

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
 * The MAC'd fields of a token row, primary key first, in this fixed order, then its seq: 1 at
 * creation, one more at each use or renewal (an accessor is never reused, so no sequence is
 * needed); a revoked token's accessor is remembered as gone.
 */
export function tokenMacFields(t: Token): MacValue[] {
  return withSeq([
    t.hash, t.accessor, t.parentAccessor, t.orphan, t.policies, t.path, t.meta, t.displayName, t.ttlSeconds,
    t.explicitMaxTtlSeconds, t.numUses, t.renewable, t.createdAt, t.expiresAt, t.entityId, t.periodSeconds, t.role,
    t.boundCidrs,
  ], t.seq);
}

const TABLE = 'tokens';

/** A revoked token's accessor as a GoneRow (core/row-seq.ts): never written again. */
export const revokedToken = (accessor: string) => ({ table: TABLE, id: accessor, seq: Infinity });

/**
 * Inserts a token; returns the clear token (to show once) and its row, MAC'd. A child is inserted
 * only while its parent row exists: the parent is locked FOR SHARE in the same statement, so a
 * concurrent revocation (which deletes the parent) either runs first and the child is refused
 * (`undefined`), or waits for the child to commit and then finds it. Timestamps are set here, to
 * the millisecond, as the MAC covers them.
 */
export async function insertToken(db: Queryable, mac: RowMac, spec: NewTokenSpec & { parentAccessor: null }): Promise<NewToken>;
export async function insertToken(db: Queryable, mac: RowMac, spec: NewTokenSpec): Promise<NewToken | undefined>;
export async function insertToken(db: Queryable, mac: RowMac, spec: NewTokenSpec): Promise<NewToken | undefined> {
  const { token, accessor } = newToken();
  const parent = spec.parentAccessor;
  const now = Date.now();
  const row: Token = {
    hash: hashToken(token),
    accessor,
    parentAccessor: parent,
    policies: [...spec.policies],
    displayName: spec.displayName,
    meta: spec.meta ?? null,
    orphan: parent === null,
    renewable: spec.renewable ?? spec.ttlSeconds > 0,
    ttlSeconds: spec.ttlSeconds,
    explicitMaxTtlSeconds: spec.explicitMaxTtlSeconds ?? 0,
    numUses: spec.numUses ?? 0,
    path: spec.path,
    entityId: '',
    createdAt: new Date(now),
    expiresAt: spec.ttlSeconds > 0 ? new Date(now + spec.ttlSeconds * 1000) : null,
    periodSeconds: spec.periodSeconds ?? 0,
    role: spec.role ?? '',
    boundCidrs: [...(spec.boundCidrs ?? [])],
    seq: 1,
    mac: null,
  };
  row.mac = mac.sign(TABLE, tokenMacFields(row));
  const source =
    parent === null ? sql`(select 1) as src` : sql`(select 1 from vault.tokens where accessor = ${parent} for share) as src`;
  const inserted = rowsOf<{ accessor: string }>(
    await db.execute(sql`
      insert into vault.tokens (hash, accessor, parent_accessor, orphan, policies, display_name, path, meta,
        ttl_seconds, explicit_max_ttl_seconds, num_uses, renewable, entity_id, created_at, expires_at,
        period_seconds, role, bound_cidrs, seq, mac)
      select ${row.hash}, ${accessor}, ${parent}::text, ${row.orphan},
        array(select jsonb_array_elements_text(${JSON.stringify(row.policies)}::jsonb)), ${row.displayName},
        ${row.path}, ${row.meta ? JSON.stringify(row.meta) : null}::jsonb, ${row.ttlSeconds}::int, ${row.explicitMaxTtlSeconds}::int,
        ${row.numUses}::int, ${row.renewable}, ${row.entityId}, ${row.createdAt.toISOString()}::timestamptz,
        ${row.expiresAt ? row.expiresAt.toISOString() : null}::timestamptz, ${row.periodSeconds}::int, ${row.role},
        array(select jsonb_array_elements_text(${JSON.stringify(row.boundCidrs)}::jsonb)), ${row.seq}::bigint, ${row.mac}
      from ${source}
      returning accessor`),
  );
  return inserted.length ? { token, row } : undefined;
}

type RawToken = {
  hash: Uint8Array; accessor: string; parent_accessor: string | null; policies: string[] | string; display_name: string;
  meta: Record<string, string> | null; orphan: boolean; renewable: boolean; ttl_seconds: number;
  explicit_max_ttl_seconds: number; num_uses: number; path: string; entity_id: string;
  created_at: Date | string; expires_at: Date | string | null; mac: Uint8Array | null;
  period_seconds: number; role: string; bound_cidrs: string[] | string | null; seq: string | number | null;
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
    seq: Number(r.seq ?? 0),
    mac: r.mac === null ? null : Buffer.from(r.mac),
  };
}

/**
 * Throws IntegrityError unless the row is the one the vault wrote, and not an older copy of it
 * (a seq below one this process saw, or a token it saw revoked).
 */
function checkToken(mac: RowMac, row: Token, since: number): void {
  mac.check(TABLE, tokenMacFields(row), row.mac);
  mac.observe(TABLE, row.accessor, row.seq, since);
}

/**
 * The token row matching `where` if it is live: unexpired, and every ancestor present and
 * unexpired at any depth. The rows of the chain come back in one statement; each is checked
 * against its MAC (a forged or altered row, the token's own or an ancestor's, is refused with
 * IntegrityError). A dead token is revoked (with its tree) and not returned.
 */
async function liveToken(db: Queryable, mac: RowMac, where: SQL): Promise<Token | undefined> {
  const since = mac.clock();
  const raws = rowsOf<RawToken & { self: boolean }>(
    await db.execute(sql`
      with recursive chain as (
        select t.*, true as self from vault.tokens t where ${where}
        union
        select p.*, false from vault.tokens p join chain c on p.accessor = c.parent_accessor
      )
      select * from chain`),
  );
  const own = raws.find((r) => r.self);
  if (!own) return undefined;
  const row = fromRaw(own);
  checkToken(mac, row, since);
  const byAccessor = new Map(raws.map((r) => [r.accessor, r]));
  const now = Date.now();
  let dead = false;
  const visited = new Set<string>();
  for (let cur: Token | undefined = row; cur; ) {
    if (cur.expiresAt && cur.expiresAt.getTime() <= now) {
      dead = true;
      break;
    }
    visited.add(cur.accessor);
    if (cur.parentAccessor === null) break;
    const raw = byAccessor.get(cur.parentAccessor);
    // A missing parent: revoked while this child was looked up. A loop cannot be written by the vault.
    if (!raw || visited.has(raw.accessor)) {
      dead = true;
      break;
    }
    cur = fromRaw(raw);
    checkToken(mac, cur, since);
  }
  if (dead) {
    await revokeTree(db, row.accessor, (a) => mac.gone(TABLE, a, Infinity));
    return undefined;
  }
  return row;
}

/** A root token (sys/init, sys/generate-root): orphan, no expiry, not renewable. */
export async function insertRootToken(db: Queryable, mac: RowMac): Promise<NewToken> {
  return insertToken(db, mac, { policies: ['root'], displayName: 'root', path: 'auth/token/root', parentAccessor: null, ttlSeconds: 0, renewable: false });
}

/** Attempts of a compare-and-set on a token row; each lost one means another caller made progress. */
const CAS_ATTEMPTS = 1000;

/**
 * Finds the live token for `token`, as its caller presents it: consumes one use of a limited
 * token, re-signing the row with a compare-and-set on its old use count and MAC; the last use
 * deletes it and its children (Vault revokes a token whose use count reaches zero). One round
 * trip for unlimited tokens.
 */
export async function useToken(db: Queryable, mac: RowMac, token: string): Promise<Token | undefined> {
  const hash = hashToken(token);
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const row = await liveToken(db, mac, sql`hash = ${hash}`);
    if (!row || row.numUses === 0) return row;
    if (row.numUses > 1) {
      const next: Token = { ...row, numUses: row.numUses - 1, seq: row.seq + 1 };
      next.mac = mac.sign(TABLE, tokenMacFields(next));
      const updated = rowsOf<{ accessor: string }>(
        await db.execute(sql`
          update vault.tokens set num_uses = ${next.numUses}::int, seq = ${next.seq}::bigint, mac = ${next.mac}
          where hash = ${hash} and num_uses = ${row.numUses}::int and mac = ${row.mac}
          returning accessor`),
      );
      if (updated.length) {
        mac.observe(TABLE, next.accessor, next.seq);
        return next;
      }
      continue;
    }
    // Last use: whoever deletes the row is served; a concurrent caller finds nothing.
    const last = rowsOf<{ accessor: string }>(
      await db.execute(sql`
        delete from vault.tokens where hash = ${hash} and num_uses = 1 and mac = ${row.mac}
        returning accessor`),
    );
    if (!last.length) continue;
    await revokeTree(db, row.accessor, (a) => mac.gone(TABLE, a, Infinity));
    return { ...row, numUses: 0 };
  }
  return undefined;
}

/**
 * Finds the live token for `token` on behalf of another caller (lookup, revoke): spends none of
 * its uses, as Vault counts only the calling token's own use.
 */
export async function peekToken(db: Queryable, mac: RowMac, token: string): Promise<Token | undefined> {
  return liveToken(db, mac, sql`hash = ${hashToken(token)}`);
}

/** The live token with this accessor, its uses unspent. */
export async function peekAccessor(db: Queryable, mac: RowMac, accessor: string): Promise<Token | undefined> {
  return liveToken(db, mac, sql`accessor = ${accessor}`);
}

/**
 * Deletes a token and its non-orphan descendants at any depth (orphans have no parent link);
 * returns the count. Deletes a level per statement, each from a fresh snapshot: a child being
 * created under a row of the tree holds that row FOR SHARE, so the delete of the row waits for
 * it and the next level's statement finds the child. Give it a transaction to make it atomic.
 * `revoked` hears each deleted accessor, for the caller to remember as gone (RowMac.gone) once
 * its transaction has committed: a revoked row put back is then refused by this process.
 */
export async function revokeTree(db: Queryable, accessor: string, revoked?: (accessor: string) => void): Promise<number> {
  let count = 0;
  let level = rowsOf<{ accessor: string }>(
    await db.execute(sql`delete from vault.tokens where accessor = ${accessor} returning accessor`),
  ).map((r) => r.accessor);
  for (const a of level) revoked?.(a);
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
    for (const a of level) revoked?.(a);
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
 * system max. A token at its max keeps its expiry, and the warning says so. A periodic token's
 * TTL is reset to its period whatever the increment, with no max TTL unless an explicit max was
 * set, which then still bounds it. The row is re-signed with a compare-and-set on its old MAC.
 * @see https://developer.hashicorp.com/vault/docs/concepts/tokens#token-time-to-live-periodic-tokens-and-explicit-max-ttls
 */
export async function renewToken(db: Queryable, mac: RowMac, row: Token, increment: number): Promise<Renewal> {
  const periodic = row.periodSeconds > 0;
  const ttl = periodic ? row.periodSeconds : increment > 0 ? increment : row.ttlSeconds;
  const maxTtl = periodic
    ? row.explicitMaxTtlSeconds > 0 ? row.explicitMaxTtlSeconds : Infinity
    : row.explicitMaxTtlSeconds > 0 ? Math.min(row.explicitMaxTtlSeconds, DEFAULT_TOKEN_TTL) : DEFAULT_TOKEN_TTL;
  let current: Token | undefined = row;
  for (let attempt = 0; attempt < CAS_ATTEMPTS && current; attempt++) {
    const now = Date.now();
    const limit = current.createdAt.getTime() + maxTtl * 1000;
    const wanted = now + ttl * 1000;
    const next: Token = { ...current, expiresAt: new Date(Math.min(wanted, limit)), seq: current.seq + 1 };
    next.mac = mac.sign(TABLE, tokenMacFields(next));
    const updated = rowsOf<{ accessor: string }>(
      await db.execute(sql`
        update vault.tokens set expires_at = ${next.expiresAt!.toISOString()}::timestamptz, seq = ${next.seq}::bigint, mac = ${next.mac}
        where accessor = ${current.accessor} and mac = ${current.mac}
        returning accessor`),
    );
    if (updated.length) {
      mac.observe(TABLE, next.accessor, next.seq);
      if (wanted <= limit) return { row: next };
      const maxLeft = Math.max(0, Math.floor((limit - now) / 1000));
      return {
        row: next,
        warning: `TTL of "${ttl}s" exceeded the effective max_ttl of "${maxLeft}s"; TTL value is capped accordingly`,
      };
    }
    // A use or another renewal re-signed the row since it was read: read it again.
    current = await peekAccessor(db, mac, current.accessor);
  }
  return { row };
}

/** Seconds left before expiry (0 for tokens that never expire). */
export function remainingTtl(row: Token, now = Date.now()): number {
  if (!row.expiresAt) return 0;
  return Math.max(0, Math.floor((row.expiresAt.getTime() - now) / 1000));
}
