// auth-admin: the admin API (tenants, users, clients, keys, sessions), for zeno:admin tokens.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-admin',
  product: 'auth',
  description: 'ZenoAuth admin API: tenants, users, clients, signing-key rotation and sessions; Bearer tokens of zeno-admin with scope zeno:admin.',
  routes: [{ path: '/auth/admin', match: 'PathPrefix' }],
  scaling: { minScale: 0, maxScale: 3, containerConcurrency: 0, target: 50, timeoutSeconds: 30 },
  env: AUTH_ENV,
  load: () => import('./app.js'),
});
