// The audit device: one row per request and one per response, written before the request runs
// and before its answer leaves; string values are HMAC-SHA256'd, so the log proves what happened
// without holding any secret.
//
// The api never holds the audit key itself: the unsealer hands it a *line key*, HKDF(audit key,
// "…/line/v1/<id>") for a random id, and every row records the id of the key that hashed it. A
// line key hashes and verifies only the rows written with it; whoever holds the root key (the
// unsealer) derives any of them.
//
// Rows of concurrent requests are written in one INSERT (`createAuditWriter`); each request waits
// for its batch to commit before it answers, and a failed batch fails every request in it (after
// one retry of each alone, so that one request's bad row fails only that request).
// @see https://developer.hashicorp.com/vault/docs/audit#sensitive-information
import { createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { auditLog } from './schema.js';

/** A key that hashes audit values, and the id recorded with each row it hashed (null: the audit key itself). */
export interface AuditKey {
  key: Uint8Array;
  id: string | null;
}

/** HKDF info of the line key with this id. */
const lineKeyInfo = (id: string) => `zenokube/vault/audit-hmac/line/v1/${id}`;

/** A fresh line key under `auditKey`, with its random id. */
export function newLineKey(auditKey: Uint8Array): { key: Buffer; id: string } {
  const id = randomBytes(12).toString('base64url');
  return { key: lineKey(auditKey, id), id };
}

/** The line key with this id (what an auditor holding the audit key derives to check a row). */
export function lineKey(auditKey: Uint8Array, id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', auditKey, Buffer.alloc(0), lineKeyInfo(id), 32));
}

/** Each key imported once, not once per value hashed. */
const imported = new WeakMap<Uint8Array, KeyObject>();

/** `hmac-sha256:<hex>` of a value, as Vault's audit devices write it. */
function auditHash(key: Uint8Array, value: string): string {
  let k = imported.get(key);
  if (!k) {
    k = createSecretKey(key);
    imported.set(key, k);
  }
  return `hmac-sha256:${createHmac('sha256', k).update(value, 'utf8').digest('hex')}`;
}

/** Copies `value` with every string (at any depth) replaced by its HMAC; keys stay readable. */
function hashStrings(key: Uint8Array, value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return auditHash(key, value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => hashStrings(key, v, depth + 1));
  const out: Record<string, unknown> = {};
  // jsonb cannot hold NUL: escape it in keys (values are hashes already).
  for (const [k, v] of Object.entries(value)) out[k.replaceAll('\u0000', '\\u0000')] = hashStrings(key, v, depth + 1);
  return out;
}

export interface AuditEntry {
  type: 'request' | 'response';
  requestId: string;
  operation: string;
  path: string;
  remoteAddress: string | undefined;
  accessor: string | undefined;
  policies: string[] | undefined;
  decision: 'allow' | 'deny' | 'none';
  status?: number;
  error?: string;
  data?: unknown;
}

/** One row as the INSERT reads it from its JSON parameter (jsonb_to_recordset). */
interface AuditRow {
  type: string;
  request_id: string;
  operation: string;
  path: string;
  remote_address: string | null;
  accessor: string | null;
  policies: string[] | null;
  decision: string;
  status: number | null;
  error: string | null;
  data: unknown;
  key_id: string | null;
}

const row = ({ key, id }: AuditKey, e: AuditEntry): AuditRow => ({
  type: e.type,
  request_id: e.requestId,
  operation: e.operation,
  path: e.path,
  remote_address: e.remoteAddress ?? null,
  accessor: e.accessor ? auditHash(key, e.accessor) : null,
  policies: e.policies ?? null,
  decision: e.decision,
  status: e.status ?? null,
  error: e.error ?? null,
  data: e.data === undefined ? null : hashStrings(key, e.data),
  key_id: id,
});

/**
 * The INSERT of `rows` (in order), all in one JSON parameter: the statement's text is the same
 * whatever the number of rows, so it is prepared once. With `epoch`, only while the seal epoch
 * is still that one.
 */
const insertRows = (rows: readonly AuditRow[], epoch?: number) => sql`
  insert into ${auditLog} (type, request_id, operation, path, remote_address, accessor, policies, decision, status, error, data, key_id)
  select type, request_id, operation, path, remote_address, accessor, policies, decision, status, error, data, key_id
  from rows from (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as (type text, request_id text, operation text, path text,
    remote_address text, accessor text, policies text[], decision text, status int, error text, data jsonb, key_id text))
    with ordinality as v(type, request_id, operation, path, remote_address, accessor, policies, decision, status, error, data, key_id, n)
  ${epoch === undefined ? sql`` : sql`where exists (select 1 from vault.seal_config where id = 1 and seal_epoch = ${epoch}::int)`}
  order by v.n
  returning seq`;

/**
 * Writes entries in order, in one plain parameterised statement (one round trip, all or none);
 * the caller lets a failure fail the request.
 */
export async function writeAudit(db: Queryable, key: AuditKey, ...entries: [AuditEntry, ...AuditEntry[]]): Promise<void> {
  await db.execute(insertRows(entries.map((e) => row(key, e))));
}

/** The vault was sealed after the writer's caller learnt the seal epoch: nothing was written. */
export class SealedSinceError extends Error {
  override readonly name = 'SealedSinceError';
}

interface Pending {
  rows: AuditRow[];
  epoch: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface AuditWriterOptions {
  /** Most rows in one INSERT (default 256). */
  maxRows?: number;
  /** INSERTs in flight at once (default 1); more requests wait and go in the next batch. */
  maxInFlight?: number;
}

export interface AuditWriter {
  /**
   * Writes a request's entries (in order, all or none) in the next batch, provided the seal epoch
   * is still `epoch` when the batch's statement runs; resolves once they are committed. Rejects
   * with `SealedSinceError` when the vault was sealed since, with the database error otherwise.
   */
  write(key: AuditKey, epoch: number, entries: readonly AuditEntry[]): Promise<void>;
}

/** The seal epoch as the database holds it now (`sys/seal` bumps it before it wipes the keys). */
export async function readSealEpoch(db: Queryable): Promise<number | undefined> {
  const [r] = rowsOf<{ seal_epoch: number }>(await db.execute(sql`select seal_epoch from vault.seal_config where id = 1`));
  return r ? Number(r.seal_epoch) : undefined;
}

export function createAuditWriter(db: Queryable, opts: AuditWriterOptions = {}): AuditWriter {
  const maxRows = opts.maxRows ?? 256;
  const maxInFlight = opts.maxInFlight ?? 1;
  let queue: Pending[] = [];
  let inFlight = 0;

  /** One INSERT of these requests' rows, guarded by the epoch; the number of rows written. */
  const insert = async (batch: readonly Pending[], epoch: number): Promise<number> => {
    return rowsOf<{ seq: number }>(await db.execute(insertRows(batch.flatMap((p) => p.rows), epoch))).length;
  };

  const settle = async (batch: Pending[], epoch: number): Promise<void> => {
    try {
      const n = await insert(batch, epoch);
      for (const p of batch) (n === 0 ? p.reject(new SealedSinceError('sealed')) : p.resolve());
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One request's row may be what the database refused: each alone, so only it fails.
      await Promise.all(batch.map((p) => settle([p], epoch)));
    }
  };

  const pump = (): void => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const epoch = queue[0]!.epoch;
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      let count = 0;
      for (const p of queue) {
        if (p.epoch === epoch && (batch.length === 0 || count + p.rows.length <= maxRows)) {
          batch.push(p);
          count += p.rows.length;
        } else rest.push(p);
      }
      queue = rest;
      inFlight++;
      void settle(batch, epoch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };

  return {
    write(key, epoch, entries) {
      return new Promise<void>((resolve, reject) => {
        let rows: AuditRow[];
        try {
          rows = entries.map((e) => row(key, e));
        } catch (err) {
          reject(err);
          return;
        }
        queue.push({ rows, epoch, resolve, reject });
        pump();
      });
    },
  };
}
