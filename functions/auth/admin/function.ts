// auth-admin: the admin API (tenants, users, clients, keys, sessions), for zeno:admin tokens, and
// the scheduled clean-up of expired rows and refresh of SAML SP metadata.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV, PASSWORD_POLICY_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-admin',
  product: 'auth',
  description: 'ZenoAuth admin API: tenants, users, clients, signing-key rotation and sessions; Bearer tokens of zeno-admin with scope zeno:admin.',
  routes: [{ path: '/auth/admin', match: 'PathPrefix' }],
  scaling: { minScale: 0, maxScale: 3, containerConcurrency: 0, target: 50, timeoutSeconds: 30 },
  emits: [
    'io.zenokube.auth.tenant.created',
    'io.zenokube.auth.tenant.deleted',
    'io.zenokube.auth.user.created',
    'io.zenokube.auth.user.updated',
    'io.zenokube.auth.user.deleted',
    'io.zenokube.auth.group.created',
    'io.zenokube.auth.group.updated',
    'io.zenokube.auth.group.deleted',
    'io.zenokube.auth.group.membership-changed',
    'io.zenokube.auth.client.created',
    'io.zenokube.auth.client.deleted',
    'io.zenokube.auth.key.rotated',
    'io.zenokube.auth.session.revoked',
  ],
  // Administration and the cleanup schedule: rare calls, up to three pods, a pool of three.
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 3,
  },
  subscribes: [
    { type: 'io.zenokube.auth.cleanup.scheduled', retry: 3 },
    { type: 'io.zenokube.auth.saml-metadata.scheduled', retry: 1 },
  ],
  schedules: [
    { name: 'auth-cleanup', schedule: '*/15 * * * *', type: 'io.zenokube.auth.cleanup.scheduled' },
    // SP metadata read from a URL is read again hourly (each SP at most once in 50 minutes).
    { name: 'auth-saml-metadata', schedule: '7 * * * *', type: 'io.zenokube.auth.saml-metadata.scheduled' },
  ],
  env: { ...AUTH_ENV, ...PASSWORD_POLICY_ENV },
  load: () => import('./app.js'),
});
