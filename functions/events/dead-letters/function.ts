// events-dead-letters: where every Trigger sends the events that exhausted their retries.
import { defineFunction } from '#shared/function/define';

export default defineFunction({
  name: 'events-dead-letters',
  product: 'events',
  description: 'Dead-letter sink of every Trigger: stores events that exhausted their retries; admin API to list, show, replay and delete them (Bearer tokens of zeno-admin with scope zeno:admin).',
  routes: [{ path: '/events/dead-letters', match: 'PathPrefix' }],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 0, target: 50, timeoutSeconds: 30 },
  // Dead letters are rare and small: the smallest pod, a pool of two.
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 2,
  },
  // A replay re-publishes the original event, whatever its type.
  emits: ['*'],
  env: {
    ZENO_ADMIN_ISSUER: { description: 'Issuer of the zeno:admin access tokens the admin API takes (default <ZENO_BASE_URL>/auth/system).' },
    ZENO_ADMIN_JWKS_URL: { description: "That issuer's JWKS, e.g. the in-cluster http://auth-oidc.<namespace>.svc.cluster.local/auth/system/jwks (default <issuer>/jwks)." },
  },
  load: () => import('./app.js'),
});
