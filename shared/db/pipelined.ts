// Statements of a postgres.js transaction that skip drizzle's per-statement work: compiled once,
// filled per call, and either sent without waiting for their answer (they leave with the
// transaction's next statement or its COMMIT) or run straight on the transaction's client.
// Both go through postgres.js's public `unsafe` on the client `sql.begin` handed the transaction.
import { is, SQL, type Query } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { openTransaction, watch } from './transaction-state.js';

/** Compiles statements sent without drizzle (raw SQL only: no column names to re-case). */
const dialect = new PgDialect();

/**
 * Compiles a raw statement (no column names to re-case) once, for `sendInTransaction` and
 * `queryInTransaction`: `sql.placeholder(name)` values become parameters that `fillPlaceholders`
 * fills per call, so a hot statement is not rebuilt by drizzle for every run.
 */
export function compileStatement(statement: SQL): Query {
  return dialect.sqlToQuery(statement);
}

/**
 * Sends `statement` in the open postgres.js transaction `tx` (the drizzle transaction object a
 * `database.transaction` callback gets) without waiting for its answer: it leaves in the same
 * socket write as the transaction's next statement or its COMMIT, one round trip fewer. If it
 * fails, the transaction fails (the server rolls it back and `database.transaction` rejects with
 * that error). For statements whose result the caller does not need and whose parameters are
 * strings or null, so that they cannot fail before reaching the server. Returns false, having
 * sent nothing, when `tx` is not such a transaction (PGlite, a savepoint, a transaction that is
 * over): the caller then runs the statement as usual.
 */
export function sendInTransaction(tx: object, statement: SQL | Query): boolean {
  const state = openTransaction(tx);
  if (!state) return false;
  const { sql: text, params } = is(statement, SQL) ? dialect.sqlToQuery(statement) : statement;
  // execute() hands the statement to the connection now, ahead of anything issued after it.
  state.unawaited.push(watch(state, state.client.unsafe(text, params as never[], { prepare: true }).execute()));
  return true;
}

/**
 * Runs a compiled statement in the open postgres.js transaction `tx` as a prepared statement,
 * straight on postgres.js (drizzle's session adds nothing to a raw statement but CPU), and
 * resolves to its rows. Returns undefined, having sent nothing, when `tx` is not such a
 * transaction: the caller then runs the statement through drizzle.
 */
export function queryInTransaction<T extends Record<string, unknown>>(tx: object, query: Query): Promise<T[]> | undefined {
  const state = openTransaction(tx);
  if (!state) return undefined;
  return watch(state, state.client.unsafe<T[]>(query.sql, query.params as never[], { prepare: true }) as unknown as Promise<T[]>);
}
