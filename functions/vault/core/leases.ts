// Leases: every dynamic credential is issued with one. A lease is renewed within its max TTL and
// revoked on demand or at expiry. Revocation revokes the credential first and deletes the row
// after, under a row lock: a crash in between leaves the lease in place and the next attempt
// finds the credential already gone (engines revoke idempotently). A failed revocation stays
// visible on the row (attempts, last error) and is retried with backoff.
// @see https://developer.hashicorp.com/vault/docs/concepts/lease
// @see https://developer.hashicorp.com/vault/api-docs/system/leases
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rowsOf, type Database, type Queryable } from '#shared/db/index';
import { formatDuration } from './duration.js';
import { invalidRequest, VaultError } from './errors.js';
import { IntegrityError, type MacValue, type RowMac } from './integrity.js';
import type { Lease } from './schema.js';

const TABLE = 'leases';

/** What an engine does to a credential it issued. Both must be safe to repeat. */
export interface LeaseEngine {
  revoke(lease: Lease): Promise<void>;
  /** Extends the credential to `expireTime` (e.g. PostgreSQL's VALID UNTIL). */
  renew(lease: Lease, expireTime: Date): Promise<void>;
}

export type LeaseEngines = Readonly<Record<string, LeaseEngine>>;

/** The MAC'd fields of a lease row, in their fixed order (the retry bookkeeping grants nothing). */
function leaseMacFields(l: Pick<Lease, 'leaseId' | 'engine' | 'mount' | 'role' | 'issueTime' | 'expireTime' | 'lastRenewal' | 'ttlSeconds' | 'maxTtlSeconds' | 'renewable' | 'revocation'>): MacValue[] {
  return [l.leaseId, l.engine, l.mount, l.role, l.issueTime, l.expireTime, l.lastRenewal, l.ttlSeconds, l.maxTtlSeconds, l.renewable, l.revocation];
}

/** Vault's lease ids: `<mount path>/creds/<role>/<random>`. */
export function newLeaseId(mount: string, role: string): string {
  return `${mount.replace(/\/+$/, '')}/creds/${role}/${randomBytes(18).toString('base64url')}`;
}

type RawLease = {
  lease_id: string; engine: string; mount: string; role: string; issue_time: Date | string; expire_time: Date | string;
  last_renewal: Date | string | null; ttl_seconds: number; max_ttl_seconds: number; renewable: boolean;
  revocation: Record<string, unknown>; revoke_attempts: number; next_attempt_at: Date | string | null; last_error: string | null; mac: Uint8Array;
};

const toDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function fromRaw(r: RawLease): Lease {
  return {
    leaseId: r.lease_id,
    engine: r.engine,
    mount: r.mount,
    role: r.role,
    issueTime: toDate(r.issue_time),
    expireTime: toDate(r.expire_time),
    lastRenewal: r.last_renewal === null ? null : toDate(r.last_renewal),
    ttlSeconds: Number(r.ttl_seconds),
    maxTtlSeconds: Number(r.max_ttl_seconds),
    renewable: r.renewable,
    revocation: typeof r.revocation === 'string' ? (JSON.parse(r.revocation) as Record<string, unknown>) : r.revocation,
    revokeAttempts: Number(r.revoke_attempts),
    nextAttemptAt: r.next_attempt_at === null ? null : toDate(r.next_attempt_at),
    lastError: r.last_error,
    mac: Buffer.from(r.mac),
  };
}

interface NewLease {
  engine: string;
  mount: string;
  role: string;
  ttlSeconds: number;
  maxTtlSeconds: number;
  renewable: boolean;
  revocation: Record<string, unknown>;
}

/** A timestamptz parameter (drivers differ on Date values): ISO text, cast. */
const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;

/** Timestamps the MAC covers are written from JS, at millisecond precision. */
const nowMs = () => new Date(Math.floor(Date.now()));

/** Stores a lease (before its credential exists: a crash after leaves a lease the sweep revokes). */
export async function insertLease(db: Queryable, mac: RowMac, leaseId: string, spec: NewLease, issueTime = nowMs()): Promise<Lease> {
  const expireTime = new Date(issueTime.getTime() + spec.ttlSeconds * 1000);
  const row = { leaseId, ...spec, issueTime, expireTime, lastRenewal: null };
  const signed = mac.sign(TABLE, leaseMacFields(row));
  const [raw] = rowsOf<RawLease>(
    await db.execute(sql`
      insert into vault.leases (lease_id, engine, mount, role, issue_time, expire_time, last_renewal, ttl_seconds,
        max_ttl_seconds, renewable, revocation, mac)
      values (${leaseId}, ${spec.engine}, ${spec.mount}, ${spec.role}, ${ts(issueTime)}, ${ts(expireTime)}, null, ${spec.ttlSeconds}::int,
        ${spec.maxTtlSeconds}::int, ${spec.renewable}, ${JSON.stringify(spec.revocation)}::jsonb, ${signed})
      returning *`),
  );
  return fromRaw(raw!);
}

/** Deletes a lease whose credential was never created (the creation failed). */
export async function discardLease(db: Queryable, leaseId: string): Promise<void> {
  await db.execute(sql`delete from vault.leases where lease_id = ${leaseId}`);
}

/** The lease, checked; undefined when there is none. `lock` takes it FOR UPDATE. */
export async function getLease(db: Queryable, mac: RowMac, leaseId: string, lock = false): Promise<Lease | undefined> {
  const [raw] = rowsOf<RawLease>(
    await db.execute(lock ? sql`select * from vault.leases where lease_id = ${leaseId} for update` : sql`select * from vault.leases where lease_id = ${leaseId}`),
  );
  if (!raw) return undefined;
  const lease = fromRaw(raw);
  mac.check(TABLE, leaseMacFields(lease), lease.mac);
  return lease;
}

/** Vault's lease lookup `data`. */
export function lookupData(l: Lease, now = Date.now()) {
  return {
    id: l.leaseId,
    issue_time: l.issueTime.toISOString(),
    expire_time: l.expireTime.toISOString(),
    last_renewal: l.lastRenewal ? l.lastRenewal.toISOString() : null,
    renewable: l.renewable,
    ttl: Math.max(0, Math.floor((l.expireTime.getTime() - now) / 1000)),
  };
}

/** LIST sys/leases/lookup/<prefix>: the next segment of each lease id under it (folders end in /). */
export async function listLeases(db: Queryable, prefix: string): Promise<string[]> {
  const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = rowsOf<{ key: string }>(
    await db.execute(sql`
      select distinct case when position('/' in substr(lease_id, ${prefix.length + 1}::int)) > 0
        then split_part(substr(lease_id, ${prefix.length + 1}::int), '/', 1) || '/'
        else substr(lease_id, ${prefix.length + 1}::int) end as key
      from vault.leases where lease_id like ${like} order by 1 limit 10000`),
  );
  return rows.map((r) => r.key).filter((k) => k !== '' && k !== '/');
}

interface Renewal {
  lease: Lease;
  warnings: string[];
}

/**
 * Renews to `increment` seconds from now (the lease's TTL when 0), never past issue time + max TTL;
 * the engine moves the credential's own expiry first, then the row. Vault's warning when capped.
 */
export async function renewLease(database: Database, mac: RowMac, engines: LeaseEngines, leaseId: string, increment: number): Promise<Renewal> {
  return database.transaction(async (tx) => {
    const lease = await getLease(tx, mac, leaseId, true);
    if (!lease || lease.expireTime.getTime() <= Date.now()) throw invalidRequest('lease not found or lease is not renewable');
    if (!lease.renewable) throw invalidRequest('lease is not renewable');
    const engine = engineOf(engines, lease);
    const now = nowMs();
    const ttl = increment > 0 ? increment : lease.ttlSeconds;
    const maxEnd = lease.issueTime.getTime() + lease.maxTtlSeconds * 1000;
    const left = Math.floor((maxEnd - now.getTime()) / 1000);
    if (left <= 0) throw invalidRequest('lease is past its max TTL and cannot be renewed');
    const warnings: string[] = [];
    let granted = ttl;
    if (ttl > left) {
      granted = left;
      warnings.push(`TTL of "${formatDuration(ttl)}" exceeded the effective max_ttl of "${formatDuration(left)}"; TTL value is capped accordingly`);
    }
    const expireTime = new Date(now.getTime() + granted * 1000);
    await engine.renew(lease, expireTime);
    const next: Lease = { ...lease, expireTime, lastRenewal: now, ttlSeconds: granted };
    const signed = mac.sign(TABLE, leaseMacFields(next));
    await tx.execute(sql`
      update vault.leases set expire_time = ${ts(expireTime)}, last_renewal = ${ts(now)}, ttl_seconds = ${granted}::int, mac = ${signed}
      where lease_id = ${leaseId}`);
    return { lease: { ...next, mac: signed }, warnings };
  });
}

function engineOf(engines: LeaseEngines, lease: Lease): LeaseEngine {
  const engine = engines[lease.engine];
  if (!engine) throw invalidRequest(`no secrets engine "${lease.engine}" for this lease`);
  return engine;
}

const unavailable = (err: unknown) => err instanceof VaultError && err.status >= 500;

/** Seconds before the next try after `attempts` failures: 10 s doubling, at most an hour. */
export const backoffSeconds = (attempts: number) => Math.min(3600, 10 * 2 ** Math.min(attempts, 12));

type Revocation = 'revoked' | 'absent' | 'locked';

/**
 * Revokes one lease: the credential, then the row, under the row's lock. `force` deletes the row
 * even when the engine fails (Vault's revoke-force). A failure is recorded on the row and rethrown.
 * `skipLocked` (the sweep) passes over a lease another revoker holds.
 */
export async function revokeLease(database: Database, mac: RowMac, engines: LeaseEngines, leaseId: string, opts: { force?: boolean; skipLocked?: boolean; onlyExpired?: boolean } = {}): Promise<Revocation> {
  let failure: unknown;
  const outcome = await database.transaction(async (tx): Promise<Revocation> => {
    const [raw] = rowsOf<RawLease>(
      await tx.execute(sql`
        select * from vault.leases where lease_id = ${leaseId}
          ${opts.onlyExpired ? sql`and expire_time <= now()` : sql``}
        for update ${opts.skipLocked ? sql`skip locked` : sql``}`),
    );
    if (!raw) return opts.skipLocked ? 'locked' : 'absent';
    const lease = fromRaw(raw);
    mac.check(TABLE, leaseMacFields(lease), lease.mac);
    try {
      await engineOf(engines, lease).revoke(lease);
    } catch (err) {
      // The vault itself cannot serve now (sealed, unsealer or storage away): not the lease's
      // failure; nothing is recorded and the caller (or the next tick) tries again.
      if (unavailable(err)) throw err;
      if (!opts.force) {
        failure = err;
        const attempts = lease.revokeAttempts + 1;
        const message = err instanceof Error ? err.message : String(err);
        await tx.execute(sql`
          update vault.leases set revoke_attempts = ${attempts}::int, last_error = ${message.slice(0, 1000)},
            next_attempt_at = now() + make_interval(secs => ${backoffSeconds(attempts)}::int)
          where lease_id = ${leaseId}`);
        return 'absent';
      }
    }
    await tx.execute(sql`delete from vault.leases where lease_id = ${leaseId}`);
    return 'revoked';
  });
  if (failure !== undefined) throw failure;
  return outcome;
}

/** The ids of leases under `prefix` (revoke-prefix), oldest first. */
export async function leaseIdsUnder(db: Queryable, prefix: string, limit = 100_000): Promise<string[]> {
  const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return rowsOf<{ lease_id: string }>(
    await db.execute(sql`select lease_id from vault.leases where lease_id like ${like} order by issue_time limit ${limit}::int`),
  ).map((r) => r.lease_id);
}

interface SweepResult {
  revoked: number;
  failed: number;
}

/**
 * Revokes expired leases whose retry time has come, a batch at a time. Safe to run from several
 * replicas at once (each lease under its own lock, skip-locked) and to repeat after a crash.
 */
export async function revokeExpired(database: Database, mac: RowMac, engines: LeaseEngines, onFailure: (leaseId: string, err: unknown) => void, batch = 100): Promise<SweepResult> {
  const due = rowsOf<{ lease_id: string }>(
    await database.db.execute(sql`
      select lease_id from vault.leases
      where expire_time <= now() and (next_attempt_at is null or next_attempt_at <= now())
      order by expire_time limit ${batch}::int`),
  ).map((r) => r.lease_id);
  const result: SweepResult = { revoked: 0, failed: 0 };
  for (const id of due) {
    try {
      if ((await revokeLease(database, mac, engines, id, { skipLocked: true, onlyExpired: true })) === 'revoked') result.revoked++;
    } catch (err) {
      if (unavailable(err)) throw err;
      result.failed++;
      onFailure(id, err);
      // A row that does not authenticate is never revoked from its (untrusted) data: it waits,
      // visible, like any failed revocation.
      if (err instanceof IntegrityError) {
        await database.db.execute(sql`
          update vault.leases set revoke_attempts = revoke_attempts + 1, last_error = 'integrity check failed',
            next_attempt_at = now() + make_interval(secs => ${backoffSeconds(1)}::int)
          where lease_id = ${id}`);
      }
    }
  }
  return result;
}
