// The postgres.js client drizzle runs on: every statement prepared, and statements that can be
// sent in a transaction without waiting for their answer.
//
// drizzle runs every postgres.js statement unnamed (`prepare: false` unless a query is given a
// name). postgres.js then asks the server for the parameter types before it can send the values:
// Parse/Describe, wait for the answer, then Bind/Execute, two round trips for every statement
// with parameters. As a named prepared statement, a statement is described once per connection
// and costs one round trip from then on (and the server skips parsing and planning it again).
// Statement texts are fixed by the code (values are always parameters), so each connection keeps
// a bounded set of them, and postgres.js recycles connections after `max_lifetime`. A statement
// invalidated by a schema change is re-prepared by postgres.js (outside a transaction it retries
// on its own).
import type { Sql, TransactionSql } from 'postgres';
import { is, SQL, type Query } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';

type UnsafeOptions = Parameters<Sql['unsafe']>[2];

interface OpenTransaction {
  /** Statements sent by `sendInTransaction`, whose answers nobody awaited yet. */
  readonly unawaited: Promise<unknown>[];
  done: boolean;
}

/** Open top-level transactions, by the client drizzle's transaction object runs its statements on. */
const transactions = new WeakMap<object, OpenTransaction>();

/** Compiles statements sent without drizzle (raw SQL only: no column names to re-case). */
const dialect = new PgDialect();

/** The client to give drizzle: the same client, with every statement prepared, in transactions too. */
export function preparingClient<T extends Sql | TransactionSql>(client: T): T {
  const own = client as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  // Built once per client (drizzle looks `unsafe` up for every statement), and per transaction:
  // only what the client has (a transaction's client has no `begin`, the pool no `savepoint`).
  const overrides = new Map<string | symbol, unknown>();
  overrides.set('unsafe', (query: string, params?: unknown[], options?: UnsafeOptions) => own.unsafe!.call(client, query, params, { ...options, prepare: true }));
  // drizzle's transactions and savepoints hand their callback a client of their own.
  if (typeof own.savepoint === 'function') {
    overrides.set('savepoint', (...args: unknown[]) => {
      const fn = args.pop() as (tx: TransactionSql) => unknown;
      return own.savepoint!.apply(client, [...args, (tx: TransactionSql) => fn(preparingClient(tx))]);
    });
  }
  if (typeof own.begin === 'function') {
    overrides.set('begin', async (...args: unknown[]) => {
      const fn = args.pop() as (tx: TransactionSql) => unknown;
      const open: OpenTransaction = { unawaited: [], done: false };
      let result: unknown;
      try {
        result = await own.begin!.apply(client, [
          ...args,
          (tx: TransactionSql) => {
            const txClient = preparingClient(tx);
            transactions.set(txClient, open);
            return fn(txClient);
          },
        ]);
      } catch (err) {
        open.done = true;
        // The callback's later statements only say the transaction was aborted: report why.
        const failed = (await Promise.allSettled(open.unawaited)).find((r) => r.status === 'rejected');
        throw failed ? failed.reason : err;
      }
      open.done = true;
      // A statement that failed on the server aborted the transaction, and Postgres answers the
      // COMMIT sent behind it with a rollback that postgres.js does not report: its failure is
      // the transaction's.
      await Promise.all(open.unawaited);
      return result;
    });
  }
  return new Proxy(client, {
    get: (target, key, receiver) => overrides.get(key) ?? Reflect.get(target, key, receiver),
  });
}

/** The postgres.js client of `tx` when it is an open top-level transaction of a preparing client. */
function openTransaction(tx: object): { client: TransactionSql; open: OpenTransaction } | undefined {
  const client = (tx as { _?: { session?: { client?: unknown } } })._?.session?.client;
  const open = typeof client === 'function' ? transactions.get(client) : undefined;
  return open && !open.done ? { client: client as TransactionSql, open } : undefined;
}

/**
 * Compiles a raw statement (no column names to re-case) once, for `sendInTransaction` and
 * `queryInTransaction`: `sql.placeholder(name)` values become parameters that `fillPlaceholders`
 * fills per call, so a hot statement is not rebuilt by drizzle for every run.
 */
export function compileStatement(statement: SQL): Query {
  return dialect.sqlToQuery(statement);
}

/**
 * Sends `statement` in the open postgres.js transaction `tx` (a drizzle transaction object)
 * without waiting for its answer: it leaves in the same socket write as the transaction's next
 * statement or its COMMIT, one round trip fewer. If it fails, the transaction fails (it is rolled
 * back and `db.transaction` rejects with that error). For statements whose result the caller does
 * not need and whose parameters are strings or null, so that they cannot fail before reaching the
 * server. Returns false, having sent nothing, when `tx` is not such a transaction (PGlite, a
 * savepoint, the database itself): the caller then runs the statement as usual.
 */
export function sendInTransaction(tx: object, statement: SQL | Query): boolean {
  const target = openTransaction(tx);
  if (!target) return false;
  const { sql: text, params } = is(statement, SQL) ? dialect.sqlToQuery(statement) : statement;
  // execute() hands the statement to the connection now, ahead of anything issued after it.
  target.open.unawaited.push(target.client.unsafe(text, params as never[], { prepare: true }).execute());
  return true;
}

/**
 * Runs a compiled statement in the open postgres.js transaction `tx` as a prepared statement,
 * straight on postgres.js (drizzle's session adds nothing to a raw statement but CPU), and
 * resolves to its rows. Returns undefined, having sent nothing, when `tx` is not such a
 * transaction: the caller then runs the statement through drizzle.
 */
export function queryInTransaction<T extends Record<string, unknown>>(tx: object, query: Query): Promise<T[]> | undefined {
  const target = openTransaction(tx);
  if (!target) return undefined;
  return target.client.unsafe<T[]>(query.sql, query.params as never[], { prepare: true }) as unknown as Promise<T[]>;
}
