// auth-scim-sync: keeps each tenant's users, groups and nested memberships in step with its peer
// sites (air-gapped mode), over SCIM, on a schedule: a PingSource in a cluster, a timer locally.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-scim-sync',
  product: 'auth',
  description: 'ZenoAuth cross-site sync: users, groups and nested memberships with peer sites over SCIM, last-writer-wins with tombstones.',
  routes: [],
  // One round per peer at a time (a lease on the peer row); one pod is enough.
  scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, target: 10, timeoutSeconds: 600 },
  emits: [],
  runtime: {
    resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '384Mi' } },
    databasePool: 2,
  },
  subscribes: [{ type: 'io.zenokube.auth.scim-sync.scheduled', retry: 1 }],
  schedules: [{ name: 'auth-scim-sync', schedule: '*/5 * * * *', type: 'io.zenokube.auth.scim-sync.scheduled' }],
  env: AUTH_ENV,
  load: () => import('./app.js'),
});
