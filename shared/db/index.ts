// The data layer: drizzle over postgres.js when DATABASE_URL is set, embedded PGlite otherwise.
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinArrayTypes } from './arrays.js';

/** The drizzle handle every product's queries take (both drivers share this type). */
export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;
/** A transaction handle, as passed to `db.transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** Either a database or a transaction: query functions accept both. */
export type Queryable = Db | Tx;

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /** Runs raw SQL and returns its rows, whatever the driver. */
  query<T extends Record<string, unknown>>(statement: SQL): Promise<T[]>;
  /** Subscribes to NOTIFY on `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** `SELECT 1`: true when the database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL; when absent the embedded PGlite under `dataDir` is used. */
  url?: string | undefined;
  dataDir?: string;
  /** Pool size for postgres.js (default 10). */
  max?: number;
  /**
   * Called once the first connection is under way (postgres.js loaded, the connection opening), before
   * the database is ready: a caller on a cold start loads the rest of its code meanwhile. PGlite,
   * which opens in this thread, calls it at once.
   */
  onConnecting?: () => void;
}

/** Rows of a driver's `execute` result: postgres.js returns an array, PGlite `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/** Opens the database the configuration names. PGlite is imported only when used. */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.url) return openPostgres(opts.url, opts.max ?? 10, opts.onConnecting);
  opts.onConnecting?.();
  const dir = join(opts.dataDir ?? '.zenokube', 'pgdata');
  await mkdir(dir, { recursive: true });
  return openPglite(dir);
}

async function openPostgres(url: string, max: number, onConnecting: (() => void) | undefined): Promise<Database> {
  // postgres.js alone comes first: drizzle (its postgres-js driver and pg-core) loads once the
  // first connection is opening, instead of sharing this thread with postgres.js before it.
  const { default: postgres } = await import('postgres');
  // fetch_types: false skips postgres.js's catalog query for array types on the first
  // connection (a round trip plus a cold-catalog join, ~40 ms on a fresh backend); the built-in
  // array types it would find are given statically instead (./arrays.ts), so that array results
  // and JS-array parameters behave as before. Arrays of user-defined types (none here) would
  // come back as literals.
  const sql = postgres(url, { max, fetch_types: false, types: builtinArrayTypes(), onnotice: () => {}, connection: { application_name: 'zenokube' } });
  // Open the first connection while drizzle loads (cold start); a failure here is reported by
  // the first real query or by ping(), so it is dropped. Waiting for it before returning leaves
  // that connection idle for the caller's first queries: issued while it was still busy, they
  // would each open another connection (a backend fork and a handshake) on the start path.
  const warm = sql`select 1`.then(
    () => {},
    () => {},
  );
  onConnecting?.();
  const [{ drizzle }, { preparingClient }] = await Promise.all([import('drizzle-orm/postgres-js'), import('./prepared.js'), warm]);
  const db = drizzle(preparingClient(sql), { casing: 'snake_case' }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    query: async (statement) => rowsOf(await db.execute(statement)),
    listen: async (channel, onPayload) => {
      const sub = await sql.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    ping: async () => {
      try {
        await sql`select 1`;
        return true;
      } catch {
        return false;
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Opens PGlite on a directory (`memory://` for an in-memory instance). */
export async function openPglite(dir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const pg = await PGlite.create(dir);
  const db = drizzle(pg, { casing: 'snake_case' }) as unknown as Db;
  let closed = false;
  return {
    kind: 'pglite',
    db,
    query: async (statement) => rowsOf(await db.execute(statement)),
    listen: async (channel, onPayload) => {
      const off = await pg.listen(channel, onPayload);
      return async () => {
        if (!closed) await off();
      };
    },
    ping: async () => {
      try {
        await pg.query('select 1');
        return true;
      } catch {
        return false;
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await pg.close();
    },
  };
}
