// The data layer: drizzle over postgres.js when DATABASE_URL is set, embedded PGlite otherwise.
// Code gets the pool-level handle (`db`) for single statements and opens transactions with
// `transaction(fn)`, whose callback is handed the transaction's own handle: the handle drizzle
// offers on the pool has no transaction() to call. Every wait is bounded (settings.ts), and a
// database that cannot serve a request fails with a coded, retryable error (errors.ts).
import { join } from 'node:path';
import { ConfigError } from '#shared/config/index';
import { openPostgres } from './postgres.js';
import type { Database } from './database.js';
import { DEFAULT_DATABASE_SETTINGS, type DatabaseSettings } from './settings.js';

export type { Database, Db, Queryable, Tx } from './database.js';
export type { DatabaseSettings } from './settings.js';
export { rowsOf } from './rows.js';

interface OpenOptions {
  /** postgres:// URL; when absent the embedded PGlite under `dataDir` is used. */
  url?: string | undefined;
  /** Where LISTEN connects when `url` names a transaction-mode pooler; `url` when absent. */
  listenUrl?: string | undefined;
  dataDir?: string;
  /** Pool size for postgres.js (default: settings.poolMax). */
  max?: number;
  /** Timeouts and pool limits (shared/config reads them from the environment); defaults otherwise. */
  settings?: Partial<DatabaseSettings>;
  /**
   * Called once the first connection is under way (postgres.js loaded, the connection opening), before
   * the database is ready: a caller on a cold start loads the rest of its code meanwhile. PGlite,
   * which opens in this thread, calls it at once.
   */
  onConnecting?: () => void;
}

/**
 * Opens the database the configuration names. PGlite is imported only when used: it is an optional
 * dependency, which the image leaves out (see the Dockerfile), so there DATABASE_URL is required.
 */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const settings: DatabaseSettings = Object.freeze({ ...DEFAULT_DATABASE_SETTINGS, ...opts.settings, ...(opts.max ? { poolMax: opts.max } : {}) });
  if (opts.url) return openPostgres({ url: opts.url, listenUrl: opts.listenUrl }, settings, opts.onConnecting);
  opts.onConnecting?.();
  const { openPglite } = await import('./pglite.js');
  try {
    return await openPglite(join(opts.dataDir ?? '.zenokube', 'pgdata'), settings);
  } catch (err) {
    const missing = (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('@electric-sql/pglite');
    if (missing) throw new ConfigError(['DATABASE_URL: required here; the embedded PGlite (@electric-sql/pglite) is not installed']);
    throw err;
  }
}
