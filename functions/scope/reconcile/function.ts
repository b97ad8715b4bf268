// scope-reconcile: the ZenoScope / ZenoApp operator as a function (docs/scope.md).
import { defineFunction } from '#shared/function/define';

export default defineFunction({
  name: 'scope-reconcile',
  product: 'scope',
  description: 'ZenoScope operator: reconciles ZenoScope and ZenoApp resources on ApiServerSource events and a resync schedule (namespace, RBAC, CloudNativePG database and role, vault policy and role, RemoteSecret, HTTPRoute, OAuth client, ServiceMonitor; teardown in reverse under a finalizer).',
  // Reached by the ApiServerSource sink and the Broker only: no public route.
  routes: [],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 4, target: 4, timeoutSeconds: 300 },
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 2,
  },
  subscribes: [{ type: 'io.zenokube.scope.resync.requested', retry: 2 }],
  schedules: [{ name: 'scope-resync', schedule: '*/10 * * * *', type: 'io.zenokube.scope.resync.requested' }],
  env: {
    ZENO_SCOPE_KUBE_API: { description: 'The Kubernetes API server.', value: 'https://kubernetes.default.svc' },
    ZENO_SCOPE_KUBE_TOKEN_FILE: { description: "The service account's token, read on every call (projected tokens rotate).", value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    ZENO_SCOPE_KUBE_CA_FILE: { description: "The CA of the API server's certificate.", value: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' },
    ZENO_SCOPE_LEASE_NAMESPACE: { description: 'Namespace of the per-resource Leases that keep two reconciles of one resource apart.', value: 'zenokube-system' },
    ZENO_SCOPE_VAULT_ADDR: { description: 'ZenoVault, e.g. http://vault-api.zenokube-system.svc.cluster.local/vault (unset: vault steps report VaultUnavailable).' },
    ZENO_SCOPE_VAULT_TOKEN: { description: 'A vault token allowed to write ACL policies, Kubernetes auth roles and secret/scopes/*, secret/apps/*.', secret: { name: 'zeno-scope', key: 'vault-token' } },
    ZENO_SCOPE_AUTH_URL: { description: 'ZenoAuth base URL (unset: OAuth steps report AuthUnavailable).' },
    ZENO_SCOPE_AUTH_ADMIN_SECRET: { description: "The zeno-admin client's secret, for admin tokens of the system tenant.", secret: { name: 'zeno-scope', key: 'auth-admin-secret' } },
  },
  load: () => import('./app.js'),
});
