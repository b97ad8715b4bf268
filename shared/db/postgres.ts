// The data layer on PostgreSQL: drizzle's postgres-js driver over a postgres.js pool whose
// connections carry the server-side timeouts, behind the connection gate.
import type { Sql } from 'postgres';
import { builtinArrayTypes } from './arrays.js';
import { createConnectionGate } from './gate.js';
import type { Database, Db, TransactionOptions, Tx } from './database.js';
import { poolClient } from './postgres-pool.js';
import { runPostgresTransaction } from './postgres-transaction.js';
import { rowsOf } from './rows.js';
import { sessionParameters, type DatabaseSettings } from './settings.js';

/** How long close() lets running queries finish before it ends their connections. */
const CLOSE_TIMEOUT_SECONDS = 5;

/** BEGIN's options: the isolation level and access mode drizzle would set with SET TRANSACTION. */
function beginMode(opts: TransactionOptions | undefined): string {
  if (!opts) return '';
  return [opts.isolationLevel ? `isolation level ${opts.isolationLevel}` : '', opts.accessMode ?? ''].filter(Boolean).join(' ');
}

/**
 * `url` is where statements go; `listenUrl`, when given, where LISTEN goes: a server that keeps
 * the session (the primary's own service), as a transaction-mode pooler does not.
 */
export async function openPostgres(target: { url: string; listenUrl?: string | undefined }, settings: DatabaseSettings, onConnecting: (() => void) | undefined): Promise<Database> {
  // postgres.js alone comes first: drizzle (its postgres-js driver and pg-core) loads once the
  // first connection is opening, instead of sharing this thread with postgres.js before it.
  const { default: postgres } = await import('postgres');
  // fetch_types: false skips postgres.js's catalog query for array types on the first
  // connection (a round trip plus a cold-catalog join, ~40 ms on a fresh backend); the built-in
  // array types it would find are given statically instead (./arrays.ts), so that array results
  // and JS-array parameters behave as before. Arrays of user-defined types (none here) would
  // come back as literals.
  const options = {
    fetch_types: false,
    types: builtinArrayTypes(),
    onnotice: () => {},
    connection: { application_name: 'zenokube', ...sessionParameters(settings) },
  } as const;
  // `prepare: false` here wins over the per-statement `prepare: true` of ./postgres-pool.ts,
  // ./postgres-transaction.ts and ./pipelined.ts (postgres.js ANDs the two).
  const sql: Sql = postgres(target.url, { ...options, max: settings.poolMax, prepare: settings.prepare });
  // postgres.js gives LISTEN a connection of its own; on a separate client it connects elsewhere.
  const listener: Sql = target.listenUrl ? postgres(target.listenUrl, { ...options, max: 1 }) : sql;
  const gate = createConnectionGate(settings.poolMax, settings.poolWaitMs);
  // Open the first connection while drizzle loads (cold start); a failure here is reported by
  // the first real query or by ping(), so it is dropped. Waiting for it before returning leaves
  // that connection idle for the caller's first queries: issued while it was still busy, they
  // would each open another connection (a backend fork and a handshake) on the start path.
  const warm = gate.run(() => sql`select 1`).then(
    () => {},
    () => {},
  );
  onConnecting?.();
  const [{ drizzle, PostgresJsSession, PostgresJsTransaction }, { PgDialect }] = await Promise.all([import('drizzle-orm/postgres-js'), import('drizzle-orm/pg-core'), warm]);
  const db = drizzle({ client: poolClient(sql, gate), casing: 'snake_case' }) as unknown as Db;
  // A transaction's drizzle object, built as drizzle's own transaction() builds it, on the guarded
  // client of ./postgres-transaction.ts. One dialect for all of them: its column-name cache stays warm.
  const dialect = new PgDialect({ casing: 'snake_case' });
  const build = (client: Sql) => new PostgresJsTransaction(dialect, new PostgresJsSession(client as never, dialect, undefined), undefined);
  return {
    kind: 'postgres',
    db,
    settings,
    transaction: <T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions) =>
      runPostgresTransaction(sql, gate, beginMode(opts), build, fn as (tx: never) => Promise<T>),
    query: async (statement) => rowsOf(await db.execute(statement)),
    listen: async (channel, onPayload) => {
      const sub = await listener.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    ping: async () => {
      try {
        await gate.run(() => sql`select 1`);
        return true;
      } catch {
        return false;
      }
    },
    health: () => gate.health(),
    close: async () => {
      gate.close();
      await Promise.all([sql, ...(listener === sql ? [] : [listener])].map((s) => s.end({ timeout: CLOSE_TIMEOUT_SECONDS })));
    },
  };
}
