// The scoped kubeconfig of one ZenoScope or ZenoApp: a ServiceAccount in its namespace bound by a
// RoleBinding to a Role of that namespace, a bounded token for it from the TokenRequest API, and a
// kubeconfig (the cluster the reconciler itself talks to, that token, a context naming the
// namespace) kept in the vault at `secret/<path>/kubeconfig`. The token is issued again when it
// nears its expiry (the resync comes every 10 minutes), when the ServiceAccount was made again (its
// uid changed, so the old token is dead) or when the entry no longer matches.
// @see https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/
// @see https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
import { MANAGED_BY, OWNER_LABEL, type ScopeNames } from './names.js';
import type { KubeObject } from './objects.js';
import { STEP_LABEL } from './objects.js';

/** What the token is asked to live: a day. The API server may shorten it; its answer is what counts. */
export const TOKEN_SECONDS = 86_400;
/**
 * Issued again once less than this is left (a third of its life: many resyncs before it expires),
 * or a third of the life the API server really gave it when that is shorter, so that a token
 * shortened by the server is not issued again on every pass.
 */
export const RENEW_BEFORE_SECONDS = 28_800;

/** What the kubeconfig's user may do, in the namespace only (a Role, not a ClusterRole). */
const KUBECONFIG_RULES = [
  { apiGroups: [''], resources: ['pods', 'pods/log', 'events', 'endpoints'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['services', 'configmaps', 'secrets', 'persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
] as const;

/** The ServiceAccount, Role and RoleBinding all bear this name (`<base>` is at most 52 characters). */
export const kubeconfigAccount = (n: ScopeNames): string => `${n.base}-kubeconfig`;
export const kubeconfigPath = (n: ScopeNames): string => `${n.vaultPath}/kubeconfig`;

/** In the order they are made; teardown deletes them in reverse. */
export function kubeconfigObjects(n: ScopeNames): KubeObject[] {
  const name = kubeconfigAccount(n);
  const metadata = { name, namespace: n.namespace, labels: { ...MANAGED_BY, [OWNER_LABEL]: n.uid, [STEP_LABEL]: 'Kubeconfig' } };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules: KUBECONFIG_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: n.namespace }],
    },
  ];
}

/** The vault entry at `secret/<path>/kubeconfig`: the kubeconfig and what it was issued for. */
export interface KubeconfigEntry {
  kubeconfig: string;
  namespace: string;
  serviceAccount: string;
  serviceAccountUid: string;
  server: string;
  /** RFC 3339, as the TokenRequest answered. */
  expirationTimestamp: string;
  /** When the reconciler asked for it (its clock). */
  issuedAt: string;
}

/** Why the entry must be issued again; `renew` when it still works but nears its expiry. */
export function kubeconfigVerdict(
  have: Partial<KubeconfigEntry> | undefined,
  want: { namespace: string; serviceAccount: string; serviceAccountUid: string | undefined; server: string },
  now: string,
): { issue: false } | { issue: true; renew: boolean; why: string } {
  if (!have?.kubeconfig || !have.expirationTimestamp) return { issue: true, renew: false, why: 'no kubeconfig yet' };
  if (have.namespace !== want.namespace || have.serviceAccount !== want.serviceAccount || have.server !== want.server) return { issue: true, renew: false, why: 'the kubeconfig names another namespace, account or server' };
  if (want.serviceAccountUid !== undefined && have.serviceAccountUid !== want.serviceAccountUid) return { issue: true, renew: false, why: 'the ServiceAccount was made again, its old token is void' };
  const left = (Date.parse(have.expirationTimestamp) - Date.parse(now)) / 1000;
  if (!(left > 0)) return { issue: true, renew: false, why: `the token expired at ${have.expirationTimestamp}` };
  const life = (Date.parse(have.expirationTimestamp) - Date.parse(have.issuedAt ?? '')) / 1000;
  if (left < (life > 0 ? Math.min(RENEW_BEFORE_SECONDS, life / 3) : RENEW_BEFORE_SECONDS)) return { issue: true, renew: true, why: `the token expires at ${have.expirationTimestamp}` };
  return { issue: false };
}

/** YAML double-quoted scalars are JSON strings. */
const q = (s: string) => JSON.stringify(s);

/** A kubeconfig with one cluster, one user (the token) and one context in the namespace. */
export function kubeconfigYaml(o: { server: string; ca?: string; token: string; user: string; namespace: string; context: string }): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: zenokube',
    '  cluster:',
    `    server: ${q(o.server)}`,
    ...(o.ca ? [`    certificate-authority-data: ${q(Buffer.from(o.ca, 'utf8').toString('base64'))}`] : []),
    'users:',
    `- name: ${q(o.user)}`,
    '  user:',
    `    token: ${q(o.token)}`,
    'contexts:',
    `- name: ${q(o.context)}`,
    '  context:',
    '    cluster: zenokube',
    `    namespace: ${q(o.namespace)}`,
    `    user: ${q(o.user)}`,
    `current-context: ${q(o.context)}`,
    '',
  ].join('\n');
}
