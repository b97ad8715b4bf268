// auth-saml: the SAML 2.0 identity provider of each tenant at {issuer}/saml (metadata, SSO, SLO).
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-saml',
  product: 'auth',
  description: 'SAML 2.0 identity provider per tenant: metadata, SP- and IdP-initiated single sign-on (HTTP-Redirect and HTTP-POST), single logout.',
  routes: [{ path: '/auth/[^/]+/saml/(metadata|sso|slo|login|idp-initiated)', match: 'RegularExpression', methods: ['GET', 'POST'] }],
  scaling: { minScale: 0, maxScale: 4, containerConcurrency: 0, target: 100, timeoutSeconds: 30 },
  emits: [
    'io.zenokube.auth.login.succeeded',
    'io.zenokube.auth.login.failed',
    'io.zenokube.auth.session.revoked',
  ],
  // Sign-in runs argon2id and every response is an RSA signature; SAML traffic is a small share of
  // sign-ins, so up to four pods with a pool of three keep the cluster's connection budget.
  runtime: {
    resources: { requests: { cpu: '200m', memory: '160Mi' }, limits: { memory: '384Mi' } },
    nodeOptions: '--max-old-space-size=256',
    databasePool: 3,
  },
  env: AUTH_ENV,
  load: () => import('./app.js'),
});
