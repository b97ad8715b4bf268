// The Kubernetes objects one ZenoScope or ZenoApp wants, step by step: built from the spec and the
// derived names only, so the same resource always yields the same objects (server-side apply makes
// writing them again a no-op).
import { MANAGED_BY, OWNER_LABEL, SHARER_PREFIX, type ScopeNames } from './names.js';
import type { ScopeSpec } from './spec.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** Label naming the provisioning step an object belongs to, so pruning and teardown find it again. */
export const STEP_LABEL = 'scope.zenokube.io/step';

const labels = (n: ScopeNames, step: string) => ({ ...MANAGED_BY, [OWNER_LABEL]: n.uid, [STEP_LABEL]: step });

/** Namespace (a ZenoScope's own) and RBAC: the team's group may edit what is in it. */
export function namespaceObjects(n: ScopeNames): KubeObject[] {
  const out: KubeObject[] = [];
  if (n.ownsNamespace) {
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.namespace, labels: { ...labels(n, 'Namespace'), 'scope.zenokube.io/scope': n.base } } });
  }
  out.push(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `${n.base}-app`.slice(0, 63), namespace: n.namespace, labels: labels(n, 'Namespace') } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `zenokube-scope-${n.base}`.slice(0, 63), namespace: n.namespace, labels: labels(n, 'Namespace') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: `zenokube:scope:${n.base}` }],
    },
  );
  return out;
}

/**
 * CloudNativePG declarative objects in the cluster's namespace: an owner role (no login) that owns
 * the database, this resource's login role in it, and the Database with its extensions. The
 * Database and owner role carry one sharer label per resource using them.
 * @see https://cloudnative-pg.io/documentation/current/declarative_database_management/
 */
export function databaseObjects(n: ScopeNames, spec: ScopeSpec): KubeObject[] {
  const db = spec.database;
  if (!db.enabled || !db.clusterRef) return [];
  const ns = db.clusterRef.namespace;
  const cluster = { name: db.clusterRef.name };
  const shared = { ...MANAGED_BY, [STEP_LABEL]: 'Database', [`${SHARER_PREFIX}${n.uid}`]: 'true' };
  return [
    {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'DatabaseRole',
      metadata: { name: n.ownerRoleObject, namespace: ns, labels: shared },
      spec: { cluster, name: n.databaseOwner, ensure: 'present', login: false, databaseRoleReclaimPolicy: db.reclaimPolicy, comment: `owner of database ${n.database} (zenokube scope)` },
    },
    {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'DatabaseRole',
      metadata: { name: n.loginRoleObject, namespace: ns, labels: labels(n, 'Database') },
      spec: { cluster, name: n.loginRole, ensure: 'present', login: true, inRoles: [n.databaseOwner], passwordSecret: { name: n.passwordSecret }, databaseRoleReclaimPolicy: 'delete', comment: `${n.key}` },
    },
    {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Database',
      metadata: { name: n.databaseObject, namespace: ns, labels: shared },
      spec: {
        cluster,
        name: n.database,
        owner: n.databaseOwner,
        ensure: 'present',
        databaseReclaimPolicy: db.reclaimPolicy,
        extensions: db.extensions.map((name) => ({ name, ensure: 'present' })),
      },
    },
  ];
}

/** The login role's password Secret (basic-auth, as CloudNativePG reads it), created once with a generated password. */
export function passwordSecret(n: ScopeNames, spec: ScopeSpec): KubeObject | undefined {
  if (!spec.database.enabled || !spec.database.clusterRef) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/basic-auth',
    metadata: { name: n.passwordSecret, namespace: spec.database.clusterRef.namespace, labels: { ...labels(n, 'Database'), 'cnpg.io/reload': 'true' } },
    stringData: { username: n.loginRole },
  };
}

/** What an application connects with: the role, its password and where the database is. */
export function connectionData(n: ScopeNames, spec: ScopeSpec, password: string, endpoint?: { host: string; port: number }): Record<string, string> {
  const ref = spec.database.clusterRef!;
  const host = endpoint?.host ?? `${ref.name}-rw.${ref.namespace}.svc`;
  const port = String(endpoint?.port ?? 5432);
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    username: n.loginRole,
    password,
    host,
    port,
    dbname: n.database,
    uri: `postgresql://${encodeURIComponent(n.loginRole)}:${encodeURIComponent(password)}@${hostPort}/${n.database}`,
  };
}

/** One HTTPRoute per host, attached to the Gateway, each path to its Service. */
export function routeObjects(n: ScopeNames, spec: ScopeSpec): KubeObject[] {
  if (!spec.ingress.enabled) return [];
  const gw = spec.ingress.gatewayRef;
  return spec.ingress.hosts.map((h, i) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: `${n.base.slice(0, 50)}-${i}`, namespace: n.namespace, labels: labels(n, 'Route') },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: gw.name, namespace: gw.namespace, ...(gw.sectionName ? { sectionName: gw.sectionName } : {}) }],
      hostnames: [h.hostname],
      rules: h.paths.map((p) => ({
        matches: [{ path: { type: p.pathType, value: p.path } }],
        backendRefs: [{ group: '', kind: 'Service', name: p.service.name, port: p.service.port, weight: 1 }],
      })),
    },
  }));
}

/** A ServiceMonitor over the namespace's Services labelled with the scope. */
export function monitoringObjects(n: ScopeNames, spec: ScopeSpec): KubeObject[] {
  if (!spec.monitoring.enabled) return [];
  const m = spec.monitoring;
  return [
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: n.base, namespace: n.namespace, labels: labels(n, 'Monitoring') },
      spec: {
        selector: { matchLabels: { 'scope.zenokube.io/scope': n.base } },
        namespaceSelector: { matchNames: [n.namespace] },
        endpoints: [{ port: m.port, path: m.path, interval: m.interval, scheme: 'http' }],
      },
    },
  ];
}

/** The RemoteSecret that syncs the database credentials from the vault into the namespace. */
export function remoteSecretObject(n: ScopeNames): KubeObject {
  return {
    apiVersion: 'vault.zenokube.io/v1alpha1',
    kind: 'RemoteSecret',
    metadata: { name: n.databaseSecret, namespace: n.namespace, labels: labels(n, 'Secrets') },
    spec: { path: `${n.vaultPath}/database`, refreshInterval: '1h', target: { name: n.databaseSecret, creationPolicy: 'Owner', deletionPolicy: 'Delete' } },
  };
}

/** A Secret's `data`: each value base64-encoded, as the API server stores and returns it. */
export function base64Values(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
}

/** The OAuth client's credentials, written directly when no vault is asked for (the executor fills them). */
export function oauthSecretObject(n: ScopeNames): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: n.oauthSecret, namespace: n.namespace, labels: labels(n, 'OAuthClient') } };
}

/** The credentials Secret written directly when no vault is asked for. */
export function databaseSecretObject(n: ScopeNames, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: n.databaseSecret, namespace: n.namespace, labels: labels(n, 'Secrets') }, data: base64Values(data) };
}
