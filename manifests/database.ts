// The database's own objects (knative/database/): the CloudNativePG Cluster, the PgBouncer Pooler
// every function connects through, and WAL archiving plus base backups to object storage through
// the barman-cloud plugin (its ObjectStore, the Cluster's `plugins` entry, a ScheduledBackup).
import { DEFAULT_DATABASE_SETTINGS, sessionParameters } from '#shared/db/settings';
import { platformLabels } from './names.js';
import type { DatabaseClusterOptions, ManifestOptions } from './options.js';

/** The barman-cloud plugin's name, as the Cluster, ScheduledBackup and externalClusters name it. */
const BARMAN_PLUGIN = 'barman-cloud.cloudnative-pg.io';

/**
 * The startup parameters the data layer sends (shared/db/settings.ts `sessionParameters`), which
 * PgBouncer refuses unless told to ignore them: in transaction mode they cannot follow a client
 * from one server connection to the next. The same values are set on the owner role instead.
 * CloudNativePG prepends its own defaults to this list.
 */
const IGNORED_STARTUP_PARAMETERS = Object.keys(sessionParameters(DEFAULT_DATABASE_SETTINGS));

/** Server-side timeouts of the owner role: what the pooled path gets in place of the startup parameters. */
const ROLE_TIMEOUTS = sessionParameters(DEFAULT_DATABASE_SETTINGS);

/** Names of the objects CloudNativePG creates or we generate for a cluster. */
export function databaseNames(c: Pick<DatabaseClusterOptions, 'name'>) {
  return {
    /** Service of the primary (CloudNativePG). */
    rw: `${c.name}-rw`,
    /** Secret of the owner's credentials: username, password, uri (CloudNativePG). */
    app: `${c.name}-app`,
    /** The Pooler and its Service. */
    pooler: `${c.name}-pooler-rw`,
    objectStore: `${c.name}-store`,
    scheduledBackup: `${c.name}-daily`,
  };
}

/**
 * `postgresql.cnpg.io/v1` Cluster. CloudNativePG creates the `<name>-app` Secret (keys
 * `username`, `password`, `uri`) for the bootstrap database's owner and the `<name>-rw` Service.
 * `max_connections` is what the connection budget (./budget.ts) is checked against; WALs are
 * archived by the barman-cloud plugin to the ObjectStore below.
 * @see https://cloudnative-pg.io/documentation/current/applications/
 * @see https://cloudnative-pg.io/plugin-barman-cloud/docs/usage/
 */
export function databaseCluster(opts: ManifestOptions): Record<string, unknown> {
  const c = opts.databaseCluster;
  const roleSettings = Object.entries(ROLE_TIMEOUTS).map(([k, v]) => `ALTER ROLE "${c.owner}" IN DATABASE "${c.database}" SET ${k} = '${v}'`);
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name: c.name, labels: platformLabels('database', opts.version) },
    spec: {
      instances: c.instances,
      storage: { size: c.storage },
      resources: c.resources,
      postgresql: {
        parameters: { max_connections: String(c.maxConnections), shared_buffers: c.sharedBuffers },
      },
      bootstrap: { initdb: { database: c.database, owner: c.owner, postInitApplicationSQL: roleSettings } },
      plugins: [
        {
          name: BARMAN_PLUGIN,
          isWALArchiver: true,
          parameters: { barmanObjectName: databaseNames(c).objectStore, serverName: c.name },
        },
      ],
    },
  };
}

/**
 * `postgresql.cnpg.io/v1` Pooler: PgBouncer in transaction mode in front of the primary. Its
 * Service (the Pooler's name) is what DATABASE_URL names. `max_db_connections` caps the server
 * connections each instance opens at the pool plus its reserve, which the budget counts.
 * @see https://cloudnative-pg.io/documentation/current/connection_pooling/
 * @see https://www.pgbouncer.org/config.html
 */
export function databasePooler(opts: ManifestOptions): Record<string, unknown> {
  const c = opts.databaseCluster;
  const p = c.pooler;
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Pooler',
    metadata: { name: databaseNames(c).pooler, labels: platformLabels('database-pooler', opts.version) },
    spec: {
      cluster: { name: c.name },
      instances: p.instances,
      type: 'rw',
      pgbouncer: {
        poolMode: 'transaction',
        parameters: {
          default_pool_size: String(p.defaultPoolSize),
          reserve_pool_size: String(p.reservePoolSize),
          max_db_connections: String(p.defaultPoolSize + p.reservePoolSize),
          max_client_conn: String(p.maxClientConn),
          ignore_startup_parameters: IGNORED_STARTUP_PARAMETERS.join(','),
        },
      },
    },
  };
}

/**
 * `barmancloud.cnpg.io/v1` ObjectStore: where WALs and base backups go, and how long they stay.
 * The credentials Secret is the operator's (docs/deploying.md).
 * @see https://cloudnative-pg.io/plugin-barman-cloud/docs/object_stores/
 */
export function objectStore(opts: ManifestOptions): Record<string, unknown> {
  const c = opts.databaseCluster;
  const b = c.backup;
  return {
    apiVersion: 'barmancloud.cnpg.io/v1',
    kind: 'ObjectStore',
    metadata: { name: databaseNames(c).objectStore, labels: platformLabels('database-backup', opts.version) },
    spec: {
      retentionPolicy: b.retentionPolicy,
      configuration: {
        destinationPath: b.destinationPath,
        ...(b.endpointURL ? { endpointURL: b.endpointURL } : {}),
        s3Credentials: {
          accessKeyId: { name: b.credentialsSecret, key: 'ACCESS_KEY_ID' },
          secretAccessKey: { name: b.credentialsSecret, key: 'ACCESS_SECRET_KEY' },
        },
        wal: { compression: 'gzip', maxParallel: 2 },
        data: { compression: 'gzip', jobs: 2 },
      },
    },
  };
}

/**
 * `postgresql.cnpg.io/v1` ScheduledBackup: a base backup through the plugin on `schedule`, and
 * one at once when created, so that point-in-time recovery has a base from the first day.
 * @see https://cloudnative-pg.io/documentation/current/backup/#scheduled-backups
 */
export function scheduledBackup(opts: ManifestOptions): Record<string, unknown> {
  const c = opts.databaseCluster;
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'ScheduledBackup',
    metadata: { name: databaseNames(c).scheduledBackup, labels: platformLabels('database-backup', opts.version) },
    spec: {
      schedule: c.backup.schedule,
      immediate: true,
      backupOwnerReference: 'self',
      cluster: { name: c.name },
      method: 'plugin',
      pluginConfiguration: { name: BARMAN_PLUGIN },
    },
  };
}
