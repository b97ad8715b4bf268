// auth-scim-push: delivers every change to users, groups and memberships to the tenant's
// downstream SCIM targets, in order per resource, with retries and dead letters.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

const CHANGES = [
  'io.zenokube.auth.user.created',
  'io.zenokube.auth.user.updated',
  'io.zenokube.auth.user.deleted',
  'io.zenokube.auth.group.created',
  'io.zenokube.auth.group.updated',
  'io.zenokube.auth.group.deleted',
  'io.zenokube.auth.group.membership-changed',
] as const;

export default defineFunction({
  name: 'auth-scim-push',
  product: 'auth',
  description: 'ZenoAuth outbound SCIM push: users, groups and nested memberships to each downstream target of a tenant.',
  routes: [],
  // One pod drains at a time per claim (SKIP LOCKED); more pods only add parallel targets.
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 0, target: 50, timeoutSeconds: 300 },
  emits: [],
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 2,
  },
  subscribes: [...CHANGES.map((type) => ({ type, retry: 5 })), { type: 'io.zenokube.auth.scim-push.scheduled', retry: 3 }],
  schedules: [{ name: 'auth-scim-push', schedule: '* * * * *', type: 'io.zenokube.auth.scim-push.scheduled' }],
  env: AUTH_ENV,
  load: () => import('./app.js'),
});
