// lms-api: ZenoLMS's HTTP API under /lms/{tenant}: admin CRUD, validation, activation, check-in,
// check-out of signed license tokens, the JWKS and the signed revocation list; the sweep schedule.
import { defineFunction } from '#shared/function/define';

export default defineFunction({
  name: 'lms-api',
  product: 'lms',
  description: 'ZenoLMS: products, policies, licenses and machines; EdDSA-signed license tokens, JWKS and revocation lists; admin by ZenoAuth tokens with scope lms:admin.',
  routes: [{ path: '/lms', match: 'PathPrefix' }],
  scaling: { minScale: 0, maxScale: 10, containerConcurrency: 0, target: 100, timeoutSeconds: 30 },
  // Validation is a lookup or two; check-out signs once (Ed25519, cheap): small pods, a pool of five.
  runtime: {
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    databasePool: 5,
  },
  emits: [
    'io.zenokube.lms.license.issued',
    'io.zenokube.lms.license.suspended',
    'io.zenokube.lms.license.reinstated',
    'io.zenokube.lms.license.renewed',
    'io.zenokube.lms.license.revoked',
    'io.zenokube.lms.license.expired',
    'io.zenokube.lms.machine.activated',
    'io.zenokube.lms.machine.deactivated',
    'io.zenokube.lms.check-in.missed',
  ],
  subscribes: [{ type: 'io.zenokube.lms.sweep.scheduled', retry: 3 }],
  schedules: [{ name: 'lms-sweep', schedule: '*/5 * * * *', type: 'io.zenokube.lms.sweep.scheduled' }],
  env: {
    LMS_MASTER_KEY: {
      description: 'base64 of 32 random bytes sealing the products\' signing keys at rest (on one machine: generated under the data dir when unset)',
      secret: { name: 'zeno-lms', key: 'master-key' },
    },
    LMS_AUTH_ISSUER_BASE: { description: 'ZenoAuth\'s base: a tenant\'s admin tokens come from <this>/<tenant> (default <ZENO_BASE_URL>/auth)' },
    LMS_AUTH_JWKS_URL: { description: 'the issuers\' JWKS, {tenant} replaced, e.g. http://auth-oidc.<namespace>.svc.cluster.local/auth/{tenant}/jwks (default <issuer>/jwks)' },
  },
  load: () => import('./app.js'),
});
