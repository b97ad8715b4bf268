// The vault unsealer: long-running (min-scale 1) because the root key lives only in its memory.
import { defineFunction } from '#shared/function/define';

const sys = ['init', 'unseal', 'seal', 'seal-status', 'health'];

export default defineFunction({
  name: 'vault-unsealer',
  product: 'vault',
  description: 'Holds the vault root key in RAM: init, unseal, seal, seal status, health; unwraps DEKs for the api.',
  // Exact matches win over the api's /vault/v1 prefix (Gateway API precedence).
  routes: sys.map((s) => ({ path: `/vault/v1/sys/${s}`, match: 'Exact' as const })),
  scaling: { minScale: 1, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
  longRunning: true,
  env: {
    VAULT_INTERNAL_KEY: {
      description: 'base64 HMAC key (>= 32 bytes) authenticating the api to the unsealer',
      secret: { name: 'vault-internal', key: 'hmac-key' },
    },
  },
  load: () => import('./app.js'),
});
