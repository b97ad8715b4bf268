// auth-authorize: the authorization endpoint, PAR, the sign-in and consent pages, sessions, logout.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV, PASSWORD_POLICY_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-authorize',
  product: 'auth',
  description: 'OAuth 2.0 / OIDC authorization endpoint with PAR, server-rendered sign-in and consent, browser sessions (self-service list and sign-out), passkeys (WebAuthn), self-service sign-up, e-mail confirmation and change, password reset and change by single-use links, the device verification page (RFC 8628) and RP-initiated logout.',
  routes: [{ path: '/auth/[^/]+/(authorize|par|login|login/second-factor|consent|device|device/confirm|logout|account/sessions|account/totp|passkey\\.js|login/passkey|login/passkey/options|account/passkeys|account/passkeys/options|password/forgot|password/reset|signup|email/verify|account/email|account/password)', match: 'RegularExpression', methods: ['GET', 'POST'] }],
  scaling: { minScale: 0, maxScale: 10, containerConcurrency: 0, target: 100, timeoutSeconds: 30 },
  emits: [
    'io.zenokube.auth.login.succeeded',
    'io.zenokube.auth.login.failed',
    'io.zenokube.auth.session.revoked',
    'io.zenokube.auth.session.new-device',
    'io.zenokube.auth.mail.requested',
    'io.zenokube.auth.user.updated',
  ],
  // Password logins run argon2id: CPU and memory above the default, a pool of five.
  runtime: {
    resources: { requests: { cpu: '200m', memory: '160Mi' }, limits: { memory: '384Mi' } },
    nodeOptions: '--max-old-space-size=256',
    databasePool: 5,
  },
  env: { ...AUTH_ENV, ...PASSWORD_POLICY_ENV },
  load: () => import('./app.js'),
});
