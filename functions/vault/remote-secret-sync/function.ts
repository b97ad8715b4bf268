// vault-remote-secret-sync: ZenoVault's RemoteSecret operator as a function (docs/vault.md#remotesecret-operator).
import { defineFunction } from '#shared/function/define';
import { MANAGED_LABEL } from './resource.js';

export default defineFunction({
  name: 'vault-remote-secret-sync',
  product: 'vault',
  description: 'RemoteSecret operator: logs in to ZenoVault with its own service account and keeps each RemoteSecret\'s Kubernetes Secret in step with its KV v2 path, on API events and on the refresh interval.',
  // Reached by the ApiServerSource sink and the Broker only: no public route.
  routes: [],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 8, target: 8, timeoutSeconds: 120 },
  runtime: {
    resources: { requests: { cpu: '25m', memory: '64Mi' }, limits: { memory: '192Mi' } },
    databasePool: 1,
  },
  // Every minute: each resource is read again only when its own refreshInterval has passed.
  subscribes: [{ type: 'io.zenokube.vault.remote-secrets.scheduled', retry: 2 }],
  schedules: [{ name: 'remote-secret-resync', schedule: '* * * * *', type: 'io.zenokube.vault.remote-secrets.scheduled' }],
  // Sent the events of every RemoteSecret and of the Secrets it wrote (someone changed or deleted one).
  // It reads RemoteSecrets and writes their status and their Secrets, nothing else; the source
  // itself may only get, list and watch those.
  kubernetes: {
    watches: [
      { apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret', resource: 'remotesecrets' },
      { apiVersion: 'v1', kind: 'Secret', resource: 'secrets', labelExists: MANAGED_LABEL },
    ],
    rules: [
      { apiGroups: ['vault.zenokube.io'], resources: ['remotesecrets'], verbs: ['get', 'list'] },
      { apiGroups: ['vault.zenokube.io'], resources: ['remotesecrets/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update', 'patch', 'delete'] },
    ],
  },
  env: {
    VAULT_SYNC_KUBE_API: { description: 'The Kubernetes API server.', value: 'https://kubernetes.default.svc' },
    VAULT_SYNC_KUBE_TOKEN_FILE: { description: "The service account's token for the Kubernetes API, read on every call (projected tokens rotate).", value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    VAULT_SYNC_KUBE_CA_FILE: { description: "The CA of the API server's certificate.", value: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' },
    VAULT_SYNC_VAULT_ADDR: { description: 'ZenoVault, without /v1.', value: 'http://vault-api.zenokube.svc.cluster.local/vault' },
    VAULT_SYNC_VAULT_JWT_FILE: { description: "The service-account token the operator logs in to ZenoVault's auth/kubernetes with (read at each login).", value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    VAULT_SYNC_VAULT_AUTH_MOUNT: { description: 'The Kubernetes auth mount of ZenoVault.', value: 'kubernetes' },
  },
  load: () => import('./app.js'),
});
