// Transactions on postgres.js through its public `sql.begin`, made safe against a lost connection
// and retried once when that is safe.
//
// postgres.js's begin takes a connection out of the pool for the transaction and rejects at once
// when that connection closes, but the callback runs on, and two things of it must not reach the
// closed connection: a statement the callback sends after the loss, and the COMMIT or ROLLBACK
// begin itself sends when the callback settles. Either is written to a socket postgres.js has
// dropped, which throws from a timer and ends the process. So the callback is handed a client
// that refuses statements once the connection is gone, and the function handed to begin never
// settles after a loss: begin has already rejected, and nothing more is written.
//
// A transaction whose connection was lost before its COMMIT was sent never committed: it is run
// again, once, on a fresh connection. One lost while COMMIT was on its way may or may not have
// committed, and fails with the retryable `db_connection_lost` for the client to decide.
import type { Sql, TransactionSql } from 'postgres';
import { DatabaseUnavailableError, driverError, isConnectionFailure } from './errors.js';
import type { ConnectionGate } from './gate.js';
import { registerTransaction, watch, type TransactionState } from './transaction-state.js';

type UnsafeOptions = Parameters<Sql['unsafe']>[2];

/** How long a callback whose statement failed with a connection failure waits for the close. */
const BROKEN_CLOSE_WAIT_MS = 5_000;
/** "current transaction is aborted, commands ignored until end of transaction block". */
const IN_FAILED_TRANSACTION = '25P02';
/** Attempts of one transaction: the first, a retry after a loss, and one more when a BEGIN itself failed. */
const MAX_ATTEMPTS = 3;

interface Attempt extends TransactionState {
  /** The callback was entered: BEGIN succeeded. */
  entered: boolean;
  /** The callback returned: postgres.js is sending COMMIT. */
  committing: boolean;
  /** begin has settled: nothing may be written on the transaction's behalf any more. */
  settled: boolean;
  /** Fallback for a failing connection that never closes. */
  holdTimer?: ReturnType<typeof setTimeout>;
}

/** A statement refused before it reached the connection, awaitable as a postgres.js query is. */
function refused(err: Error): Promise<never> {
  const p = Promise.reject(err);
  return Object.assign(p, { values: () => p, raw: () => p, execute: () => p });
}

/**
 * What the callback's settling hands back to postgres.js once the connection is gone: a promise
 * that does not settle, so that begin writes no COMMIT or ROLLBACK. begin rejects when the
 * connection closes; if a failing connection never closes, ROLLBACK is let through after a while.
 */
function hold(attempt: Attempt): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (attempt.settled) return;
    attempt.holdTimer = setTimeout(() => reject(attempt.gone), BROKEN_CLOSE_WAIT_MS);
  });
}

/**
 * The client a transaction's callback (or a savepoint's) gets: every statement prepared, refused
 * once the connection is gone or the transaction is over, and savepoints with the same guard.
 * It offers what drizzle's postgres-js session calls: `unsafe` and `savepoint`.
 */
function transactionClient(client: TransactionSql, attempt: Attempt): Sql {
  const unsafe = (query: string, params?: unknown[], options?: UnsafeOptions) => {
    if (attempt.gone) return refused(attempt.gone);
    if (attempt.over) return refused(new Error('the transaction is over: this statement was not run'));
    return watch(attempt, client.unsafe(query, params as never[], { ...options, prepare: true }));
  };
  const savepoint = (fn: (sql: Sql) => Promise<unknown>) => {
    if (attempt.gone) return refused(attempt.gone);
    if (attempt.over) return refused(new Error('the transaction is over: this savepoint was not opened'));
    return client.savepoint(async (inner) => {
      let result: unknown;
      try {
        result = await fn(transactionClient(inner, attempt));
      } catch (err) {
        if (isConnectionFailure(driverError(err))) attempt.gone ??= driverError(err) as Error;
        if (attempt.gone) return hold(attempt);
        throw err;
      }
      return attempt.gone ? hold(attempt) : result;
    });
  };
  return { unsafe, savepoint } as unknown as Sql;
}

/** The error to report for a failed transaction: the statement that failed rather than "transaction aborted". */
function reportable(attempt: Attempt, err: unknown): unknown {
  return attempt.failure !== undefined && (driverError(err) as { code?: unknown }).code === IN_FAILED_TRANSACTION ? attempt.failure : err;
}

/**
 * Runs `fn` in a transaction on the pool `sql`, holding one of the gate's permits throughout.
 * `build` makes the drizzle transaction object the callback is handed from the guarded client.
 * `mode` is what follows BEGIN (an isolation level, an access mode).
 */
export async function runPostgresTransaction<T>(
  sql: Sql,
  gate: ConnectionGate,
  mode: string,
  build: (client: Sql) => object,
  fn: (tx: never) => Promise<T>,
): Promise<T> {
  if (!gate.tryAcquire()) await gate.acquire();
  try {
    for (let n = 1; ; n++) {
      const attempt: Attempt = { client: undefined as never, unawaited: [], over: false, entered: false, committing: false, settled: false };
      try {
        return await attemptTransaction(sql, mode, attempt, build, fn);
      } catch (err) {
        const lost = attempt.gone ?? (isConnectionFailure(driverError(err)) ? err : undefined);
        if (!lost) throw err;
        // Nothing committed: BEGIN failed, or the connection went before COMMIT was sent.
        const retry = !attempt.committing && (n < 2 || (n < MAX_ATTEMPTS && !attempt.entered));
        if (retry) continue;
        throw new DatabaseUnavailableError(
          'db_connection_lost',
          attempt.committing
            ? 'the database connection was lost while the transaction committed: it may or may not have committed'
            : 'the database connection was lost under the transaction, which was rolled back',
          { cause: lost },
        );
      }
    }
  } finally {
    gate.release();
  }
}

async function attemptTransaction<T>(sql: Sql, mode: string, attempt: Attempt, build: (client: Sql) => object, fn: (tx: never) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = (await sql.begin(mode, async (client) => {
      attempt.entered = true;
      (attempt as { client: TransactionSql }).client = client;
      const tx = build(transactionClient(client, attempt));
      registerTransaction(tx, attempt);
      let value: T;
      try {
        value = await fn(tx as never);
      } catch (err) {
        if (isConnectionFailure(driverError(err))) attempt.gone ??= driverError(err) as Error;
        if (attempt.gone) return hold(attempt);
        attempt.over = true;
        throw reportable(attempt, err);
      }
      if (attempt.gone) return hold(attempt);
      attempt.over = true;
      attempt.committing = true;
      return value;
    })) as T;
  } catch (err) {
    // A connection closed under the transaction: its later statements are refused.
    if (isConnectionFailure(err)) attempt.gone ??= err as Error;
    // The callback's later statements only say the transaction was aborted: report why.
    throw reportable(attempt, err);
  } finally {
    attempt.settled = true;
    attempt.over = true;
    if (attempt.holdTimer) clearTimeout(attempt.holdTimer);
  }
  // COMMIT was answered. A statement sent without awaiting that failed after the callback
  // returned made the server answer it with ROLLBACK: nothing was committed.
  for (const statement of attempt.unawaited) await statement;
  return result;
}
