// The vault unsealer: long-running because the root key lives only in its memory. Two replicas (a
// Deployment in a cluster, manifests/workload.ts), each unsealed on its own; ready only while unsealed.
import { defineFunction } from '#shared/function/define';

const sys = [
  'init',
  'unseal',
  'seal',
  'seal-status',
  'health',
  'rekey/init',
  'rekey/update',
  'rekey-recovery-key/init',
  'rekey-recovery-key/update',
  'generate-root/attempt',
  'generate-root/update',
];

export default defineFunction({
  name: 'vault-unsealer',
  product: 'vault',
  description: 'Holds the vault root key in RAM: init, unseal, seal, seal status, health, rekey, generate-root; unwraps DEKs for the api.',
  // Exact matches win over the api's /vault/v1 prefix (Gateway API precedence).
  routes: sys.map((s) => ({ path: `/vault/v1/sys/${s}`, match: 'Exact' as const })),
  // The ingress's own answers on the vault's routes (414, 431, 503, ...) in Vault's shape too.
  errorFormat: 'vault',
  scaling: { minScale: 2, maxScale: 2, containerConcurrency: 0, timeoutSeconds: 30 },
  // Holds one key and answers a handful of calls: little CPU, a pool of two (seal status, init).
  // Memory: a function idles near 85 MiB resident on Node 24; the heap is capped well below the limit.
  runtime: {
    resources: { requests: { cpu: '25m', memory: '96Mi' }, limits: { memory: '160Mi' } },
    nodeOptions: '--max-old-space-size=64',
    databasePool: 2,
  },
  longRunning: true,
  env: {
    VAULT_INTERNAL_KEY: {
      description: 'base64 HMAC key (>= 32 bytes) authenticating the api to the unsealer',
      secret: { name: 'vault-internal', key: 'hmac-key' },
    },
    VAULT_SEAL_TYPE: { description: 'shamir (default) or transit (auto-unseal through another vault)', value: 'shamir' },
    VAULT_SEAL_TRANSIT_ADDRESS: { description: 'transit seal: the other vault, as clients address it (…/vault, without /v1)' },
    VAULT_SEAL_TRANSIT_TOKEN: {
      description: 'transit seal: token allowed to update transit/encrypt/<key> and transit/decrypt/<key>',
      secret: { name: 'vault-seal', key: 'transit-token' },
    },
    VAULT_SEAL_TRANSIT_KEY: { description: 'transit seal: the key name' },
    VAULT_SEAL_TRANSIT_MOUNT: { description: 'transit seal: the mount path', value: 'transit' },
    VAULT_SEAL_RETRY_MS: { description: 'auto-unseal retry interval in ms', value: '2000' },
    VAULT_ROOT_CHECK_MS: {
      description: 'how often (ms) a replica re-reads the canary to notice a rekey made by another replica; 0 on every use',
      value: '1000',
    },
  },
  load: () => import('./app.js'),
});
