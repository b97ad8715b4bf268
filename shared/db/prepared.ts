// The postgres.js client drizzle runs on: every statement prepared, transactions whose BEGIN
// travels with their first statement, and statements that can be sent in a transaction without
// waiting for their answer.
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
type Fn = (...args: unknown[]) => unknown;

interface OpenTransaction {
  /** Statements sent by `sendInTransaction`, whose answers nobody awaited yet. */
  readonly unawaited: Promise<unknown>[];
  done: boolean;
  /** Why the connection closed under the transaction: every later statement is refused with it. */
  lost?: Error;
  /** Savepoints opened so far (their names are numbered). */
  savepoints: number;
  /** The first statement failure, reported when the callback only saw the transaction aborted. */
  failure?: unknown;
  /** A statement failed in a way that ends the connection. */
  broken?: boolean;
  /** COMMIT or ROLLBACK was answered: nothing more is sent. */
  finished?: boolean;
}

/** Open top-level transactions, by the client drizzle's transaction object runs its statements on. */
const transactions = new WeakMap<object, OpenTransaction>();

/** Compiles statements sent without drizzle (raw SQL only: no column names to re-case). */
const dialect = new PgDialect();

/** The client to give drizzle: the same pool, with every statement prepared, and transactions as below. */
export function preparingClient(client: Sql): Sql {
  const own = client as unknown as Record<string, Fn>;
  // Built once (drizzle looks `unsafe` up for every statement).
  const overrides = new Map<string | symbol, unknown>();
  overrides.set('unsafe', (query: string, params?: unknown[], options?: UnsafeOptions) => own.unsafe!.call(client, query, params, { ...options, prepare: true }));
  overrides.set('begin', (...args: unknown[]) => {
    const fn = args.pop() as (tx: TransactionSql) => unknown;
    const mode = typeof args[0] === 'string' ? args[0] : '';
    return transaction(client, mode, fn);
  });
  return new Proxy(client, {
    get: (target, key, receiver) => overrides.get(key) ?? Reflect.get(target, key, receiver),
  });
}

/**
 * What a transaction uses of a postgres.js connection, as postgres.js's own `begin` does: the
 * connection BEGIN was written to (`onexecute`), its close (`onclose`), and `reserved`, which
 * keeps the pool from handing it out until the server reports it idle again (after COMMIT or
 * ROLLBACK), when postgres.js gives it back to the pool by itself. Statements are written to it
 * with `execute`.
 */
interface Connection {
  onclose: ((err: Error) => void) | null;
  reserved: (() => void) | null;
  execute(query: unknown): boolean;
}

/**
 * A postgres.js query: marked as dispatched (`executed`) so that awaiting it does not hand it to
 * the pool, and rejected (`reject`) when the connection closes before it was written.
 */
type PendingQuery = Promise<unknown> & { executed: boolean; reject(err: unknown): void };

/**
 * A transaction whose BEGIN is not awaited: it leaves in the same socket write as the callback's
 * first statement, one round trip fewer than postgres.js's `begin`. BEGIN goes through the pool
 * like any statement and takes the connection it is written to, as there; the callback's
 * statements are then written to that connection. As there, the transaction rejects at once when
 * its connection closes, and a statement that failed fails the transaction even if the callback
 * caught its error. Unlike there, nothing more is written to a connection that failed or closed
 * (postgres.js would throw from a timer on the closed socket), and the callback's statements
 * after that are refused.
 */
async function transaction(pool: Sql, mode: string, fn: (tx: TransactionSql) => unknown): Promise<unknown> {
  const open: OpenTransaction = { unawaited: [], done: false, savepoints: 0 };
  let connection: Connection | undefined;
  let lose!: (err: Error) => void;
  const lost = new Promise<never>((_, reject) => (lose = reject));
  lost.catch(() => {});
  let taken!: (c: Connection) => void;
  const connectionTaken = new Promise<Connection>((resolve) => (taken = resolve));
  // Statements wait here while the connection cannot take more (a statement being described
  // before it is bound, a full socket): postgres.js calls `reserved` when it can again.
  const waiting: PendingQuery[] = [];
  let ready = true;
  const drain = () => {
    while (waiting.length > 0 && ready) ready = connection!.execute(waiting.shift()!);
  };
  const beginOptions = {
    onexecute: (c: Connection) => {
      connection = c;
      c.reserved = () => {
        ready = true;
        drain();
      };
      c.onclose = (err) => {
        open.lost = err;
        // Statements never written fail as the written ones did.
        for (const statement of waiting.splice(0)) statement.reject(err);
        lose(err);
      };
      taken(c);
      // Not ready for other statements: the pool stops offering this connection.
      return false;
    },
  } as unknown as UnsafeOptions;
  const begin = watch(open, pool.unsafe(`begin ${mode.replace(/[^a-z ]/gi, '')}`, [], beginOptions).execute());
  // Within microtasks when a connection is free; else BEGIN waits for one, in turn. postgres.js
  // reports the connection unless the write of BEGIN itself was held back (its own begin
  // depends on that too).
  await Promise.race([
    connectionTaken,
    begin.then(() => connection ?? Promise.reject(new Error('the connection of the transaction was not reported by postgres.js'))),
  ]);
  const send = (statement: PendingQuery) => {
    // After COMMIT or ROLLBACK the connection is the pool's again: a statement of a callback that
    // outlived its transaction is refused rather than run outside it.
    if (open.finished) return statement.reject(new Error('the transaction is over: this statement was not run'));
    waiting.push(statement);
    drain();
  };
  const txClient = transactionClient(pool, send, open);
  transactions.set(txClient, open);
  /** Sends COMMIT or ROLLBACK, the transaction's last statement: nothing is sent after it. */
  const end = (command: 'commit' | 'rollback') => {
    const statement = txClient.unsafe(command) as unknown as Promise<{ command?: string }>;
    open.finished = true;
    return Promise.race([statement, lost]);
  };
  try {
    const result = await Promise.race([fn(txClient as unknown as TransactionSql), lost]);
    open.done = true;
    await begin;
    const commit = await end('commit');
    await Promise.all(open.unawaited);
    // Postgres answers COMMIT with ROLLBACK when a statement had failed and the callback caught
    // its error.
    if (commit.command !== 'COMMIT') throw open.failure ?? new Error('the transaction was rolled back by the server');
    return result;
  } catch (err) {
    open.done = true;
    // A connection failing (reset, or ended by the server) is about to close: nothing more is
    // sent on it, as the server rolls the transaction back when the session ends.
    if (open.broken && !open.lost) await Promise.race([lost, new Promise((r) => setTimeout(r, BROKEN_CLOSE_WAIT_MS))]).catch(() => {});
    if (!open.lost && !open.finished) await end('rollback').catch(() => {});
    // The callback's later statements only say the transaction was aborted: report why.
    const unawaited = (await Promise.allSettled(open.unawaited)).find((r) => r.status === 'rejected');
    if (unawaited) throw unawaited.reason;
    throw open.failure && codeOf(err) === IN_FAILED_TRANSACTION ? open.failure : err;
  } finally {
    open.finished = true;
    // The pool took the connection back already: at the server's ready-for-query after COMMIT
    // or ROLLBACK, or, if it closed, to reconnect it when needed.
    if (connection) connection.onclose = null;
  }
}

/** How long a transaction whose connection failed waits for postgres.js to see it close. */
const BROKEN_CLOSE_WAIT_MS = 5_000;
/** "current transaction is aborted, commands ignored until end of transaction block". */
const IN_FAILED_TRANSACTION = '25P02';

/** The driver's error code of `err`, or of the error drizzle wrapped in it. */
function codeOf(err: unknown): unknown {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  return e?.code ?? e?.cause?.code;
}

/** An error that means the connection is going away: a socket error, postgres.js's own, or a FATAL from the server. */
function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown; severity?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return typeof e.syscall === 'string' || e.severity === 'FATAL' || e.severity === 'PANIC' || (typeof e.code === 'string' && e.code.startsWith('CONNECT'));
}

/**
 * Notes how a statement of the transaction failed: the first failure is the one to report, and
 * a connection failure means nothing more is sent. Also marks its rejection handled (the
 * transaction reports it), as postgres.js's begin does for its statements.
 */
function watch<T extends Promise<unknown>>(open: OpenTransaction, statement: T): T {
  statement.catch((err: unknown) => {
    open.failure ??= err;
    if (isConnectionFailure(err)) open.broken = true;
  });
  return statement;
}

/** A statement refused without reaching the connection: awaitable as a postgres.js query is. */
function refused(err: Error): Promise<never> {
  const p = Promise.reject(err);
  return Object.assign(p, { values: () => p, raw: () => p, execute: () => p });
}

/**
 * The client a transaction's callback gets (a savepoint's callback too): statements prepared and
 * written to the transaction's connection, refused once it closed, and savepoints.
 */
function transactionClient(pool: Sql, send: (statement: PendingQuery) => void, open: OpenTransaction): Sql {
  const own = pool as unknown as Record<string, Fn>;
  const overrides = new Map<string | symbol, unknown>();
  const unsafe = (query: string, params?: unknown[], options?: UnsafeOptions) => {
    const gone = open.lost ?? (open.broken ? open.failure : undefined);
    if (gone) return refused(gone as Error);
    const statement = own.unsafe!.call(pool, query, params, { ...options, prepare: true }) as PendingQuery;
    // Written here, in order, instead of through the pool when awaited.
    statement.executed = true;
    send(statement);
    return watch(open, statement);
  };
  overrides.set('unsafe', unsafe);
  overrides.set('savepoint', async (...args: unknown[]) => {
    const fn = args.pop() as (tx: TransactionSql) => unknown;
    if (open.lost) throw open.lost;
    const name = `s${open.savepoints++}`;
    await unsafe(`savepoint ${name}`);
    try {
      const result = await fn(transactionClient(pool, send, open) as unknown as TransactionSql);
      await unsafe(`release savepoint ${name}`);
      return result;
    } catch (err) {
      if (!open.lost && !open.broken) await unsafe(`rollback to savepoint ${name}`);
      throw err;
    }
  });
  // Nothing else of the pool (a nested begin, reserve, end) belongs to the callback.
  for (const key of ['begin', 'reserve', 'listen', 'subscribe', 'end', 'close']) overrides.set(key, undefined);
  return new Proxy(pool, {
    get: (target, key, receiver) => (overrides.has(key) ? overrides.get(key) : Reflect.get(target, key, receiver)),
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
