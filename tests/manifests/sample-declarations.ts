// Declarations exercising every feature the generator turns into manifests.
import { defineFunction, type FunctionModule } from '#shared/function/define';

const load = async (): Promise<FunctionModule> => {
  throw new Error('manifest tests never load an app');
};

export const tokenFunction = defineFunction({
  name: 'auth-token',
  product: 'auth',
  description: 'OAuth 2.0 token endpoint',
  routes: [
    { path: '/auth/[^/]+/token', match: 'RegularExpression', methods: ['post'] },
    { path: '/auth/.well-known', match: 'PathPrefix' },
    { path: '/auth/health', match: 'Exact', methods: ['GET', 'HEAD'] },
  ],
  scaling: { minScale: 0, maxScale: 20, containerConcurrency: 50, target: 40, timeoutSeconds: 30 },
  emits: ['io.zenokube.auth.token.revoked'],
  runtime: {
    resources: { requests: { cpu: '250m', memory: '160Mi' }, limits: { cpu: '2', memory: '384Mi' } },
    nodeOptions: '--max-old-space-size=256  --enable-source-maps',
    databasePool: 4,
    probes: { readiness: { periodSeconds: 2, failureThreshold: 2 }, liveness: { path: '/livez', initialDelaySeconds: 5, timeoutSeconds: 2 } },
  },
  env: {
    AUTH_SIGNING_KEY: { description: 'Ed25519 signing key', required: true, secret: { name: 'auth-keys', key: 'signing.pem' } },
    AUTH_SMTP_PASSWORD: { description: 'optional mail relay password', secret: { name: 'auth-smtp', key: 'password' } },
    AUTH_TOKEN_TTL: { description: 'access token lifetime', value: '600' },
    AUTH_ISSUER: { description: 'public issuer URL', required: true },
  },
  load,
});

export const pushFunction = defineFunction({
  name: 'auth-scim-push',
  product: 'auth',
  description: 'pushes group changes to SCIM peers',
  routes: [],
  scaling: { minScale: 0, maxScale: 5, containerConcurrency: 10, timeoutSeconds: 120 },
  subscribes: [
    { type: 'io.zenokube.auth.group.membership-changed', retry: 8, backoffPolicy: 'linear', backoffDelay: 'PT1S' },
    { type: 'io.zenokube.auth.user.deleted', filters: { source: '/auth/scim' }, path: '/events/user-deleted', deadLetter: false },
    { type: 'io.zenokube.auth.scim.sweep-due', path: '/events/sweep' },
  ],
  schedules: [{ name: 'nightly-sweep', schedule: '30 2 * * *', type: 'io.zenokube.auth.scim.sweep-due', data: { full: true } }],
  load,
});

export const unsealerFunction = defineFunction({
  name: 'vault-unsealer',
  product: 'vault',
  description: 'holds the root key in RAM',
  routes: [{ path: '/vault/v1/sys', match: 'PathPrefix' }],
  scaling: { minScale: 1, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 60 },
  longRunning: true,
  load,
});

export const deadLetterFunction = defineFunction({
  name: 'events-dead-letters',
  product: 'events',
  description: 'keeps events that exhausted their retries',
  routes: [],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 20, timeoutSeconds: 30 },
  emits: ['*'],
  load,
});

const operatorFunction = defineFunction({
  name: 'vault-sync',
  product: 'vault',
  description: 'an operator: API watches and RBAC',
  routes: [],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 4, timeoutSeconds: 60 },
  kubernetes: {
    watches: [
      { apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret', resource: 'remotesecrets' },
      { apiVersion: 'v1', kind: 'Secret', resource: 'secrets', labelExists: 'vault.zenokube.io/remote-secret' },
    ],
    rules: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create'], scope: 'own' },
    ],
  },
  load,
});

export const sampleDeclarations = [tokenFunction, pushFunction, unsealerFunction, deadLetterFunction, operatorFunction];
