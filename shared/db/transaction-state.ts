// What the data layer knows of one open transaction while its callback runs: whether its
// connection is gone, the first statement that failed, the statements sent without awaiting.
// Keyed by the drizzle transaction object the callback is handed (see ./pipelined.ts).
import type { TransactionSql } from 'postgres';
import { isConnectionFailure } from './errors.js';

export interface TransactionState {
  /** The transaction's postgres.js client (from `sql.begin`), for statements sent without drizzle. */
  readonly client: TransactionSql;
  /** Statements sent by `sendInTransaction`, whose answers nobody awaited. */
  readonly unawaited: Promise<unknown>[];
  /** Why the connection is gone (closed, or failing): every later statement is refused with it. */
  gone?: Error;
  /** The first statement failure, reported instead of "current transaction is aborted". */
  failure?: unknown;
  /** The callback is done: COMMIT or ROLLBACK is under way or answered, and nothing more is sent. */
  over: boolean;
}

const open = new WeakMap<object, TransactionState>();

/** Ties a drizzle transaction object to its state for the transaction's life. */
export function registerTransaction(tx: object, state: TransactionState): void {
  open.set(tx, state);
}

/** The state of `tx` when it is an open top-level postgres.js transaction of the data layer. */
export function openTransaction(tx: object): TransactionState | undefined {
  const state = open.get(tx);
  return state && !state.over && !state.gone ? state : undefined;
}

/**
 * Notes how a statement of the transaction failed: the first failure is the one to report, and a
 * connection failure means nothing more is sent. Also marks its rejection handled (the
 * transaction reports it), as postgres.js's begin does for its statements.
 */
export function watch<T extends Promise<unknown>>(state: TransactionState, statement: T): T {
  statement.catch((err: unknown) => {
    state.failure ??= err;
    if (isConnectionFailure(err)) state.gone ??= err as Error;
  });
  return statement;
}
