// auth-token: the token endpoint (RFC 6749 §3.2), introspection (RFC 7662) and revocation (RFC 7009).
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-token',
  product: 'auth',
  description: 'OAuth 2.0 token endpoint: authorization_code + PKCE, refresh_token rotation, client_credentials, the device code (RFC 8628), token exchange (RFC 8693); device authorization, introspection and revocation.',
  routes: [{ path: '/auth/[^/]+/(token|introspect|revoke|device_authorization)', match: 'RegularExpression', methods: ['POST', 'OPTIONS'] }],
  scaling: { minScale: 0, maxScale: 20, containerConcurrency: 0, target: 200, timeoutSeconds: 30 },
  emits: [
    'io.zenokube.auth.code.reused',
    'io.zenokube.auth.refresh-token.reused',
    'io.zenokube.auth.token.revoked',
  ],
  // Client secrets are argon2id hashes (19 MiB, 2 passes each) and every answer is signed: the
  // most CPU of any function, memory for concurrent hashes, a pool of five per pod (20 pods).
  runtime: {
    resources: { requests: { cpu: '250m', memory: '160Mi' }, limits: { memory: '384Mi' } },
    nodeOptions: '--max-old-space-size=256',
    databasePool: 5,
  },
  env: AUTH_ENV,
  load: () => import('./app.js'),
});
