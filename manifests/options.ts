// What the manifest generator needs beyond the declarations: image, namespace, Gateway, database.
// Defaults describe the reference installation; every value can be overridden from the CLI.

/** A Knative-addressable or plain Kubernetes object reference (`duckv1.KReference`). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ManifestOptions {
  /**
   * The one image every function runs (`zenokube fn` picks the function by `ZENO_FUNCTION`):
   * `zenokube manifests --image REF`, by default `zenokube:<package version>`, the tag of the
   * documented build (docs/deploying.md).
   */
  image: string;
  /** Namespace of every generated object (kustomize `namespace`). */
  namespace: string;
  /** The cluster's DNS domain: Services are reached at `<name>.<namespace>.svc.<clusterDomain>`. */
  clusterDomain: string;
  /**
   * The public address of the Gateway, every function's `ZENO_BASE_URL` (OIDC issuers, redirect
   * and callback URLs). Unset: the generator warns and leaves it to an overlay.
   */
  baseUrl?: string;
  /** Broker the Triggers subscribe to and the SinkBindings point at. */
  broker: string;
  /** The Gateway (Gateway API) that exposes public routes. */
  gateway: { name: string; namespace: string };
  /**
   * Secret holding a direct PostgreSQL URL: the CloudNativePG `<cluster>-app` secret, key `uri`
   * (the `-rw` service, no pooler). Functions and the migration Job use `databaseEnv`
   * (./database-env.ts) instead, which takes the credentials from the same Secret.
   */
  databaseSecret: (product: string) => { name: string; key: string };
  /** CloudNativePG cluster, its Pooler and its backups, written to `knative/database/` (applied separately). */
  databaseCluster: DatabaseClusterOptions;
  /**
   * Knative Service that receives events which exhausted their retries. Used only when a
   * function of that name is declared; otherwise Triggers carry no dead-letter sink.
   */
  deadLetterService: string;
  /** Container resources of a function pod, where its declaration's `runtime.resources` says nothing. */
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  /** Package version, part of the migration Job's name (Jobs are immutable once created). */
  version: string;
}

/** The CloudNativePG cluster and what sizes it; the connection budget (./budget.ts) checks them together. */
export interface DatabaseClusterOptions {
  name: string;
  database: string;
  owner: string;
  instances: number;
  storage: string;
  /** PostgreSQL's `max_connections`. */
  maxConnections: number;
  /**
   * Connections kept out of the budget: `superuser_reserved_connections` (3) plus the operator's
   * instance manager, its probes and the metrics exporter.
   */
  reservedConnections: number;
  /** `shared_buffers`; a quarter of the memory request is the usual start. */
  sharedBuffers: string;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  /** The PgBouncer Pooler (`<cluster>-pooler-rw`, transaction mode) every function connects through. */
  pooler: {
    instances: number;
    /** `default_pool_size`: server connections per instance for the one database/user pair. */
    defaultPoolSize: number;
    /** `reserve_pool_size`: extra server connections an instance opens when clients wait. */
    reservePoolSize: number;
    /** `max_client_conn`: client connections one instance accepts. */
    maxClientConn: number;
  };
  /** WAL archiving and base backups through the barman-cloud plugin. */
  backup: {
    /** Six-field cron (seconds first), as CloudNativePG's ScheduledBackup reads it. */
    schedule: string;
    /** `XXu`, u in d/w/m: how long base backups and WALs are kept. */
    retentionPolicy: string;
    /** `s3://bucket/path/`. */
    destinationPath: string;
    /** S3-compatible endpoint (e.g. an in-cluster MinIO); unset: the provider's own. */
    endpointURL?: string;
    /** Secret with keys ACCESS_KEY_ID and ACCESS_SECRET_KEY, created by the operator. */
    credentialsSecret: string;
  };
}

const DEFAULT_NAMESPACE = 'zenokube';
const DATABASE_CLUSTER = 'zenokube-db';

/** The reference options for a package version; `overrides` replace single fields. */
export function defaultOptions(version: string, overrides: Partial<ManifestOptions> = {}): ManifestOptions {
  return {
    image: `zenokube:${version}`,
    namespace: DEFAULT_NAMESPACE,
    clusterDomain: 'cluster.local',
    broker: 'default',
    gateway: { name: 'zenokube', namespace: 'zenokube-system' },
    // One CloudNativePG cluster and database; each product owns its own schema inside it.
    databaseSecret: () => ({ name: `${DATABASE_CLUSTER}-app`, key: 'uri' }),
    databaseCluster: {
      name: DATABASE_CLUSTER,
      database: 'zenokube',
      owner: 'zenokube',
      instances: 3,
      storage: '10Gi',
      maxConnections: 250,
      reservedConnections: 10,
      sharedBuffers: '256MB',
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
      pooler: { instances: 2, defaultPoolSize: 40, reservePoolSize: 5, maxClientConn: 1000 },
      backup: {
        schedule: '0 0 3 * * *',
        retentionPolicy: '30d',
        destinationPath: `s3://${DATABASE_CLUSTER}-backups/`,
        credentialsSecret: `${DATABASE_CLUSTER}-backup-s3`,
      },
    },
    deadLetterService: 'events-dead-letters',
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    version,
    ...overrides,
  };
}

/** The full DNS name of a Service of the generated namespace, as another namespace resolves it too. */
export function serviceUrl(name: string, opts: ManifestOptions): string {
  return `http://${name}.${opts.namespace}.svc.${opts.clusterDomain}`;
}
