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
  /** Broker the Triggers subscribe to and the SinkBindings point at. */
  broker: string;
  /** The Gateway (Gateway API) that exposes public routes. */
  gateway: { name: string; namespace: string };
  /** Secret holding the PostgreSQL URL: the CloudNativePG `<cluster>-app` secret, key `uri`. */
  databaseSecret: (product: string) => { name: string; key: string };
  /** CloudNativePG cluster written to `knative/database/` (applied separately). */
  databaseCluster: { name: string; database: string; owner: string; instances: number; storage: string };
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
    databaseCluster: { name: DATABASE_CLUSTER, database: 'zenokube', owner: 'zenokube', instances: 3, storage: '10Gi' },
    deadLetterService: 'eventing-dead-letter',
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    version,
    ...overrides,
  };
}

/** The full DNS name of a Service of the generated namespace, as another namespace resolves it too. */
export function serviceUrl(name: string, opts: ManifestOptions): string {
  return `http://${name}.${opts.namespace}.svc.${opts.clusterDomain}`;
}
