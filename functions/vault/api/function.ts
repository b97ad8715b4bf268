// The vault api: the Vault HTTP API under /vault/v1 (KV v2, tokens, policies, logins, transit).
import { defineFunction } from '#shared/function/define';

export default defineFunction({
  name: 'vault-api',
  product: 'vault',
  description: 'HashiCorp-Vault-compatible API: KV v2, token auth, ACL policies, audit; DEKs from the unsealer.',
  routes: [{ path: '/vault/v1', match: 'PathPrefix' }],
  // The ingress's own answers on the vault's routes (414, 431, 503, ...) in Vault's shape too.
  errorFormat: 'vault',
  scaling: { minScale: 0, maxScale: 10, containerConcurrency: 0, target: 100, timeoutSeconds: 30 },
  // Every read and write is a transaction and an AES-GCM envelope: moderate CPU, a pool of five.
  runtime: {
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    nodeOptions: '--max-old-space-size=160',
    databasePool: 5,
  },
  env: {
    VAULT_UNSEALER_URL: {
      description: 'base URL of the vault unsealer (default: http://vault-unsealer.zenokube.svc.cluster.local in a cluster; npm start sets the unsealer\'s own loopback port; alone, the local runner at http://127.0.0.1:$PORT/_fn/vault-unsealer)',
      service: 'vault-unsealer',
    },
    VAULT_INTERNAL_KEY: {
      description: 'base64 HMAC key (>= 32 bytes) authenticating the api to the unsealer',
      secret: { name: 'vault-internal', key: 'hmac-key' },
    },
    VAULT_TOKEN_CACHE_MS: {
      description: 'how long a token lookup is reused, in ms (0: never): a token revoked through another api replica fails here within this',
      value: '1000',
    },
  },
  // Expired leases are revoked and due static database roles rotated by this tick (credentials also
  // carry their own expiry, PostgreSQL's VALID UNTIL, so the tick's period only bounds the clean-up).
  subscribes: [{ type: 'io.zenokube.vault.leases.scheduled', retry: 3 }],
  schedules: [{ name: 'vault-leases', schedule: '*/5 * * * *', type: 'io.zenokube.vault.leases.scheduled' }],
  load: () => import('./app.js'),
});
