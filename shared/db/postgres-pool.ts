// The client drizzle's postgres-js driver runs pool-level statements on: postgres.js's `unsafe`
// with every statement prepared, each statement holding one of the gate's permits while it runs
// (so it waits at most the pool wait deadline for a connection), and a statement that failed with
// its connection sent once more when that cannot do its work twice.
//
// Prepared: drizzle passes `prepare: false` unless a query was given a name, and postgres.js then
// describes every statement with parameters before it binds it, two round trips. A named
// prepared statement is described once per connection and takes one round trip from then on;
// statement texts are fixed by the code (values are always parameters), and postgres.js recycles
// connections after `max_lifetime`, which bounds what each connection keeps.
import type { Sql } from 'postgres';
import { DatabaseUnavailableError, isConnectionFailure } from './errors.js';
import type { ConnectionGate } from './gate.js';

type UnsafeOptions = Parameters<Sql['unsafe']>[2];

/** A statement that reads only: sending it again after a lost answer changes nothing. */
const READ_ONLY = /^\s*select\b/i;

/**
 * Whether a pool-level statement that failed with `err` may be sent again: the server aborted it
 * with a FATAL error (ended backend, shutdown; also the stale FATAL postgres.js hands the first
 * statement on a reconnected connection), the connection could not be opened, or the statement
 * only reads. A statement lost in flight that writes may have committed: it is not repeated.
 */
function mayRetry(text: string, err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown };
  if (!isConnectionFailure(err) || e.code === 'CONNECTION_ENDED' || e.code === 'CONNECTION_DESTROYED') return false;
  return e.severity === 'FATAL' || e.code === 'ECONNREFUSED' || READ_ONLY.test(text);
}

/**
 * A pool-level statement as drizzle uses it (awaited, optionally after `.values()`); it runs
 * when first awaited, as a postgres.js query does.
 */
class PoolStatement implements PromiseLike<unknown> {
  readonly #sql: Sql;
  readonly #gate: ConnectionGate;
  readonly #text: string;
  readonly #params: unknown[] | undefined;
  readonly #options: UnsafeOptions;
  #values = false;
  #running: Promise<unknown> | undefined;

  constructor(sql: Sql, gate: ConnectionGate, text: string, params: unknown[] | undefined, options: UnsafeOptions) {
    this.#sql = sql;
    this.#gate = gate;
    this.#text = text;
    this.#params = params;
    this.#options = options;
  }

  /** Rows as arrays of values (drizzle's mapped selects). */
  values(): this {
    this.#values = true;
    return this;
  }

  then<A = unknown, B = never>(onfulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    this.#running ??= this.#run();
    return this.#running.then(onfulfilled, onrejected);
  }

  #send(): Promise<unknown> {
    const query = this.#sql.unsafe(this.#text, this.#params as never[], { ...this.#options, prepare: true });
    return this.#values ? query.values() : query;
  }

  async #run(): Promise<unknown> {
    if (!this.#gate.tryAcquire()) await this.#gate.acquire();
    try {
      try {
        return await this.#send();
      } catch (err) {
        if (!mayRetry(this.#text, err)) throw lostOr(err);
        try {
          return await this.#send();
        } catch (again) {
          if (!staleFatal(err, again)) throw lostOr(again);
          return await this.#send().catch((third: unknown) => Promise.reject(lostOr(third)));
        }
      }
    } finally {
      this.#gate.release();
    }
  }
}

/**
 * Whether the retry of a statement lost with its connection failed with a FATAL that a backend
 * sends as it ends while the first failure was the bare close: postgres.js then hands the dead
 * backend's FATAL to the next statement of that connection, which never ran. It is sent once more.
 */
function staleFatal(first: unknown, again: unknown): boolean {
  return (first as { severity?: unknown }).severity !== 'FATAL' && (again as { severity?: unknown }).severity === 'FATAL';
}

/** A connection failure as the retryable `db_connection_lost`; any other error as it is. */
function lostOr(err: unknown): unknown {
  if (!isConnectionFailure(err)) return err;
  return new DatabaseUnavailableError('db_connection_lost', 'the database connection was lost under the statement', { cause: err });
}

/**
 * The pool-level client for drizzle: `unsafe` as above and postgres.js's `options` (drizzle
 * installs its type parsers there). A transaction is opened through the data layer, never
 * through drizzle's `transaction()` on the pool, which would bypass the gate.
 */
export function poolClient(sql: Sql, gate: ConnectionGate): Sql {
  return {
    options: sql.options,
    unsafe: (text: string, params?: unknown[], options?: UnsafeOptions) => new PoolStatement(sql, gate, text, params, options),
    begin: () => {
      throw new TypeError('open transactions with database.transaction(), not on the pool-level drizzle handle');
    },
  } as unknown as Sql;
}
