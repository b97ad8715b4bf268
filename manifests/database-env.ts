// How a pod reaches PostgreSQL: statements through the PgBouncer Pooler, LISTEN straight to the
// primary's `-rw` Service, credentials from CloudNativePG's `<cluster>-app` Secret. The URLs hold
// no credentials: postgres.js takes the user and password from PGUSER and PGPASSWORD (libpq's
// variables) when the URL names none, so no Secret with a hand-built URL is needed.
import { databaseNames } from './database.js';
import type { ManifestOptions } from './options.js';

type EnvVar = { name: string; value: string } | { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } };

/** Environment variables the generator sets for the database; a declaration may not claim them. */
export const DATABASE_ENV = ['DATABASE_URL', 'ZENO_DB_LISTEN_URL', 'ZENO_DB_PREPARE', 'ZENO_DB_POOL_MAX', 'PGUSER', 'PGPASSWORD'] as const;

function url(host: string, database: string): string {
  // TLS without verification: CloudNativePG's certificates are its own CA's, not mounted here.
  return `postgresql://${host}:5432/${database}?sslmode=require`;
}

/**
 * The database variables of a pod. `pooled`: statements go through the Pooler (transaction mode),
 * unprepared (see shared/db/settings.ts `prepare`), and LISTEN to the primary. Not pooled (the
 * migration Job, a session of DDL under advisory locks): everything to the primary.
 */
export function databaseEnv(opts: ManifestOptions, how: { pooled: boolean; pool: number }): EnvVar[] {
  const c = opts.databaseCluster;
  const names = databaseNames(c);
  const direct = url(names.rw, c.database);
  const credentials: EnvVar[] = [
    { name: 'PGUSER', valueFrom: { secretKeyRef: { name: names.app, key: 'username' } } },
    { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: names.app, key: 'password' } } },
  ];
  if (!how.pooled) return [{ name: 'DATABASE_URL', value: direct }, { name: 'ZENO_DB_POOL_MAX', value: String(how.pool) }, ...credentials];
  return [
    { name: 'DATABASE_URL', value: url(names.pooler, c.database) },
    { name: 'ZENO_DB_LISTEN_URL', value: direct },
    // PgBouncer tracks protocol-level prepared statements only from 1.21 with max_prepared_statements;
    // unprepared statements work through any version (tests/pooler/pgbouncer.test.ts).
    { name: 'ZENO_DB_PREPARE', value: 'false' },
    { name: 'ZENO_DB_POOL_MAX', value: String(how.pool) },
    ...credentials,
  ];
}
