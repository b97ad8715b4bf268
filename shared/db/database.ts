// The data layer's types: the pool-level handle, the transaction handle and the Database both
// drivers return (index.ts opens one; postgres.ts and pglite.ts build them).
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { PoolHealth } from './gate.js';
import type { DatabaseSettings } from './settings.js';

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
