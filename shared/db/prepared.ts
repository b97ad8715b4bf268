// drizzle runs every postgres.js statement unnamed (`prepare: false` unless a query is given a
// name). postgres.js then asks the server for the parameter types before it can send the values:
// Parse/Describe, wait for the answer, then Bind/Execute, two round trips for every statement
// with parameters. As a named prepared statement, a statement is described once per connection
// and costs one round trip from then on (and the server skips parsing and planning it again).
//
// Statement texts are fixed by the code (values are always parameters), so each connection keeps
// a bounded set of them, and postgres.js recycles connections after `max_lifetime`. A statement
// invalidated by a schema change is re-prepared by postgres.js (outside a transaction it retries
// on its own).
import type { Sql, TransactionSql } from 'postgres';

type UnsafeOptions = Parameters<Sql['unsafe']>[2];

/** The client to give drizzle: the same client, with every statement prepared, in transactions too. */
export function preparingClient<T extends Sql | TransactionSql>(client: T): T {
  return new Proxy(client, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      if (key === 'unsafe') {
        return (query: string, params?: unknown[], options?: UnsafeOptions) =>
          (value as Sql['unsafe'])(query, params as never, { ...options, prepare: true });
      }
      // drizzle's transactions and savepoints hand their callback a client of their own.
      if (key === 'begin' || key === 'savepoint') {
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: TransactionSql) => unknown;
          return (value as (...a: unknown[]) => unknown).apply(target, [...args, (tx: TransactionSql) => fn(preparingClient(tx))]);
        };
      }
      return value;
    },
  });
}
