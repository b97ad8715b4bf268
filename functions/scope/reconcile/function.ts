// scope-reconcile: the ZenoScope / ZenoApp operator as a function (docs/scope.md).
import { defineFunction } from '#shared/function/define';

export default defineFunction({
  name: 'scope-reconcile',
  product: 'scope',
  description: 'ZenoScope operator: reconciles ZenoScope and ZenoApp resources on ApiServerSource events and a resync schedule (namespace, RBAC, CloudNativePG database and role, vault policy and role, scoped kubeconfig in the vault, RemoteSecret, HTTPRoute, OAuth client, ServiceMonitor; teardown in reverse under a finalizer).',
  // Reached by the ApiServerSource sink and the Broker only: no public route.
  routes: [],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 4, target: 4, timeoutSeconds: 300 },
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 2,
  },
  subscribes: [{ type: 'io.zenokube.scope.resync.requested', retry: 2 }],
  schedules: [{ name: 'scope-resync', schedule: '*/10 * * * *', type: 'io.zenokube.scope.resync.requested' }],
  // Sent the events of every ZenoScope and ZenoApp, and of the objects made for one (they carry
  // the owner label). It may do what its reconcile does (kube.ts: get, list, server-side apply,
  // create, merge patch, delete) on the kinds it makes, nothing more; `bind` on the one ClusterRole
  // its RoleBindings grant (RBAC forbids granting what one does not hold, unless allowed to bind it);
  // `escalate` and `bind` on Roles, for the namespaced Role of each scoped kubeconfig (rules it does
  // not hold itself: no more than binding `edit` in any namespace already gives); TokenRequests of
  // service accounts, for that kubeconfig's token.
  kubernetes: {
    watches: [
      { apiVersion: 'scope.zenokube.io/v1alpha1', kind: 'ZenoScope', resource: 'zenoscopes' },
      { apiVersion: 'scope.zenokube.io/v1alpha1', kind: 'ZenoApp', resource: 'zenoapps' },
      ...([
        ['v1', 'Namespace', 'namespaces'],
        ['v1', 'Secret', 'secrets'],
        ['postgresql.cnpg.io/v1', 'Database', 'databases'],
        ['postgresql.cnpg.io/v1', 'DatabaseRole', 'databaseroles'],
        ['gateway.networking.k8s.io/v1', 'HTTPRoute', 'httproutes'],
        ['vault.zenokube.io/v1alpha1', 'RemoteSecret', 'remotesecrets'],
        ['monitoring.coreos.com/v1', 'ServiceMonitor', 'servicemonitors'],
      ] as const).map(([apiVersion, kind, resource]) => ({ apiVersion, kind, resource, labelExists: 'scope.zenokube.io/owner-uid' })),
    ],
    rules: [
      { apiGroups: ['scope.zenokube.io'], resources: ['zenoscopes', 'zenoapps'], verbs: ['get', 'list', 'patch'] },
      { apiGroups: ['scope.zenokube.io'], resources: ['zenoscopes/status', 'zenoapps/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['namespaces', 'serviceaccounts', 'secrets'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['get', 'list', 'create', 'patch', 'delete', 'escalate', 'bind'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['edit'] },
      { apiGroups: ['postgresql.cnpg.io'], resources: ['databases', 'databaseroles'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: ['vault.zenokube.io'], resources: ['remotesecrets'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      // The per-resource Leases, in its own namespace only.
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'patch', 'delete'], scope: 'own' },
    ],
  },
  env: {
    ZENO_SCOPE_KUBE_API: { description: 'The Kubernetes API server.', value: 'https://kubernetes.default.svc' },
    ZENO_SCOPE_KUBE_TOKEN_FILE: { description: "The service account's token, read on every call (projected tokens rotate).", value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    ZENO_SCOPE_KUBE_CA_FILE: { description: "The CA of the API server's certificate.", value: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' },
    ZENO_SCOPE_LEASE_NAMESPACE: { description: 'Namespace of the per-resource Leases that keep two reconciles of one resource apart: the function\'s own (its Role allows Leases there only).', value: 'zenokube' },
    ZENO_SCOPE_VAULT_ADDR: { description: 'ZenoVault, e.g. http://vault-api.zenokube-system.svc.cluster.local/vault (unset: vault steps report VaultUnavailable).' },
    ZENO_SCOPE_VAULT_TOKEN: { description: 'A vault token allowed to write ACL policies, Kubernetes auth roles and secret/scopes/*, secret/apps/*.', secret: { name: 'zeno-scope', key: 'vault-token' } },
    ZENO_SCOPE_AUTH_URL: { description: 'ZenoAuth base URL (unset: OAuth steps report AuthUnavailable).' },
    ZENO_SCOPE_AUTH_ADMIN_SECRET: { description: "The zeno-admin client's secret, for admin tokens of the system tenant.", secret: { name: 'zeno-scope', key: 'auth-admin-secret' } },
  },
  load: () => import('./app.js'),
});
