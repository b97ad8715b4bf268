// The data layer: drizzle over postgres.js when DATABASE_URL is set, embedded PGlite otherwise.
// Code gets the pool-level handle (`db`) for single statements and opens transactions with
// `transaction(fn)`, whose callback is handed the transaction's own handle: the handle drizzle
// offers on the pool has no transaction() to call. Every wait is bounded (settings.ts), and a
// database that cannot serve a request fails with a coded, retryable error (errors.ts).
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PoolHealth } from './gate.js';
import { openPostgres } from './postgres.js';
import { DEFAULT_DATABASE_SETTINGS, type DatabaseSettings } from './settings.js';

export { rowsOf } from './rows.js';
export type { PoolHealth } from './gate.js';
export type { DatabaseSettings } from './settings.js';

/**
 * The pool-level drizzle handle every product's queries take (both drivers share this type).
 * Each statement takes a connection for its own run. Transactions are opened with
 * `Database.transaction`, never here.
 */
export type Db = Omit<PgDatabase<PgQueryResultHKT, Record<string, never>>, 'transaction'>;
/** A transaction handle, as a `Database.transaction` callback gets it; `tx.transaction()` opens a savepoint. */
export type Tx = PgTransaction<PgQueryResultHKT, Record<string, never>>;
/** Either the pool or a transaction: query functions accept both. */
export type Queryable = Db | Tx;

/** What follows BEGIN. */
export interface TransactionOptions {
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  accessMode?: 'read only' | 'read write';
}

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  /** The pool-level handle: single statements, each on a connection of its own for its run. */
  readonly db: Db;
  readonly settings: DatabaseSettings;
  /**
   * Runs `fn` in a transaction on one connection, handed as `tx`; commits when `fn` resolves,
   * rolls back when it rejects. Code inside must use `tx` only: a statement sent on the pool from
   * inside waits for a second connection, and fails with `db_pool_timeout` once the transactions
   * of concurrent requests hold them all. On PostgreSQL a transaction whose connection was lost
   * before its COMMIT was sent is run again once, so `fn` may run twice: anything it does besides
   * its statements must bear that.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /** Runs raw SQL and returns its rows, whatever the driver. */
  query<T extends Record<string, unknown>>(statement: SQL): Promise<T[]>;
  /** Subscribes to NOTIFY on `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** `SELECT 1` on the pool (within the pool wait deadline): true when the database answers. */
  ping(): Promise<boolean>;
  /** The pool's state, for /readyz (a stalled pool is not ready) and /healthz (stalled for long is dead). */
  health(): PoolHealth;
  /** Refuses new work, then closes within a bounded time even if a transaction never ends. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL; when absent the embedded PGlite under `dataDir` is used. */
  url?: string | undefined;
  dataDir?: string;
  /** Pool size for postgres.js (default: settings.poolMax). */
  max?: number;
  /** Timeouts and pool limits (shared/config reads them from the environment); defaults otherwise. */
  settings?: Partial<DatabaseSettings>;
  /**
   * Called once the first connection is under way (postgres.js loaded, the connection opening), before
   * the database is ready: a caller on a cold start loads the rest of its code meanwhile. PGlite,
   * which opens in this thread, calls it at once.
   */
  onConnecting?: () => void;
}

/** Opens the database the configuration names. PGlite is imported only when used. */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const settings: DatabaseSettings = Object.freeze({ ...DEFAULT_DATABASE_SETTINGS, ...opts.settings, ...(opts.max ? { poolMax: opts.max } : {}) });
  if (opts.url) return openPostgres(opts.url, settings, opts.onConnecting);
  opts.onConnecting?.();
  const dir = join(opts.dataDir ?? '.zenokube', 'pgdata');
  await mkdir(dir, { recursive: true });
  const { openPglite } = await import('./pglite.js');
  return openPglite(dir, settings);
}
