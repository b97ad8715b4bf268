// auth-oidc: discovery (OIDC Discovery, RFC 8414), JWKS, UserInfo, Dynamic Client Registration (RFC 7591/7592).
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-oidc',
  product: 'auth',
  description: 'OpenID Connect discovery and RFC 8414 metadata, JWKS, UserInfo, dynamic client registration and management.',
  routes: [
    { path: '/auth/[^/]+/(\\.well-known/(openid-configuration|oauth-authorization-server)|jwks|userinfo|register(/[^/]+)?)', match: 'RegularExpression' },
    { path: '/\\.well-known/(openid-configuration|oauth-authorization-server)/auth/[^/]+', match: 'RegularExpression', methods: ['GET'] },
  ],
  scaling: { minScale: 0, maxScale: 10, containerConcurrency: 0, target: 200, timeoutSeconds: 30 },
  emits: [
    'io.zenokube.auth.client.created',
    'io.zenokube.auth.client.updated',
    'io.zenokube.auth.client.deleted',
  ],
  // Discovery, JWKS and userinfo: mostly cached reads, a pool of three.
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '192Mi' } },
    databasePool: 3,
  },
  env: AUTH_ENV,
  load: () => import('./app.js'),
});
