// auth-scim: the SCIM 2.0 service provider (RFC 7643/7644) of each tenant, over the same users and groups.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV, PASSWORD_POLICY_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-scim',
  product: 'auth',
  description: 'ZenoAuth SCIM 2.0 service provider per tenant: Users, Groups with nested groups, filters, PATCH, ETags.',
  routes: [{ path: '/auth/[^/]+/scim/v2(/.*)?', match: 'RegularExpression' }],
  scaling: { minScale: 0, maxScale: 5, containerConcurrency: 0, target: 100, timeoutSeconds: 60 },
  emits: [
    'io.zenokube.auth.user.created',
    'io.zenokube.auth.user.updated',
    'io.zenokube.auth.user.deleted',
    'io.zenokube.auth.group.created',
    'io.zenokube.auth.group.updated',
    'io.zenokube.auth.group.deleted',
    'io.zenokube.auth.group.membership-changed',
    'io.zenokube.auth.session.revoked',
  ],
  // Provisioning bursts (a directory's first sync) and list queries: a pool of four.
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 4,
  },
  env: { ...AUTH_ENV, ...PASSWORD_POLICY_ENV },
  load: () => import('./app.js'),
});
