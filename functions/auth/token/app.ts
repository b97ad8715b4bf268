// The token function's app: resolves the tenant, authenticates the client, dispatches the grant.
import { Hono, type Context } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { authenticateClient } from '../core/client-auth.js';
import { createClientCache, type ClientCache, type ClientFinder } from '../core/client-cache.js';
import { OAuthError, toOAuthError } from '../core/oauth-error.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';
import { allowOrigin, originAllowed, preflight } from '../web/cors.js';
import { readForm, requestMeta, tenantOf } from '../web/request.js';
import { authorizationCodeGrant } from './grant-authorization-code.js';
import { clientCredentialsGrant } from './grant-client-credentials.js';
import { deviceCodeGrant } from './grant-device-code.js';
import { deviceAuthorization } from './device-authorization.js';
import { checkTokenRequestProof } from './dpop-at-token.js';
import { DEVICE_CODE_GRANT, GRANT_TYPES, TOKEN_EXCHANGE_GRANT } from '../core/grant-types.js';
import { tokenExchangeGrant } from './grant-token-exchange.js';
import { refreshTokenGrant } from './grant-refresh-token.js';
import { introspect } from './introspect.js';
import { clientCertificateOf } from '../web/client-certificate.js';
import { revoke } from './revoke.js';
import type { GrantContext } from './grant-context.js';

const unknownTenant = () => new OAuthError('invalid_request', 'Unknown issuer.', { status: 404 });

const ENDPOINTS = ['token', 'introspect', 'revoke', 'device_authorization'] as const;
const GRANTS: readonly string[] = GRANT_TYPES;
type Endpoint = (typeof ENDPOINTS)[number];

let runtime: AuthRuntime | undefined;
let clientCache: ClientCache | undefined;

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  runtime = await createAuthRuntime(ctx);
  clientCache = await createClientCache(ctx.database, { log: ctx.log });
  return buildTokenApp(runtime, clientCache.find);
}

/** SIGTERM: write the batched audit rows before the database closes; stop listening. */
export async function shutdown(): Promise<void> {
  await runtime?.auditBuffer.flush();
  await clientCache?.close();
}

export function buildTokenApp(rt: AuthRuntime, findClient?: ClientFinder): Hono {
  const app = new Hono();
  // Any failure below renders the OAuth error shape, never problem+json; an unexpected one goes
  // on to the platform's fixed 500.
  app.onError((err) => {
    const known = toOAuthError(err);
    if (!known) throw err;
    if (known !== err) rt.log.warn('database unavailable', { err });
    return known.getResponse();
  });

  // CORS (web/cors.ts): a preflight of any endpoint is answered; an answer, error or not, is made
  // readable by the browser origin that prepare() accepted for the authenticated client.
  const readableBy = new WeakMap<Request, string>();
  for (const endpoint of ENDPOINTS) {
    app.options(`/auth/:tenant/${endpoint}`, (c) => preflight(c));
    app.use(`/auth/:tenant/${endpoint}`, async (c, next) => {
      await next();
      const origin = readableBy.get(c.req.raw);
      if (origin === undefined) return;
      c.res = new Response(c.res.body, c.res);
      allowOrigin(c.res, origin);
    });
  }

  // The issuer and the audiences a client assertion may name, built once per tenant row (the
  // resolver hands out the same row while it is cached) instead of on every request.
  const urls = new WeakMap<Tenant, { issuer: string; audiences: Record<Endpoint, string[]> }>();
  const urlsOf = (tenant: Tenant) => {
    let u = urls.get(tenant);
    if (!u) {
      const issuer = rt.issuer(tenant.slug);
      const audiences = (endpoint: Endpoint) => [issuer, `${issuer}/token`, `${issuer}/${endpoint}`];
      u = { issuer, audiences: { token: audiences('token'), introspect: audiences('introspect'), revoke: audiences('revoke'), device_authorization: audiences('device_authorization') } };
      urls.set(tenant, u);
    }
    return u;
  };

  async function prepare(c: Context, endpoint: Endpoint): Promise<GrantContext> {
    const tenant: Tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenant);
    // RFC 8693 §2.1: audience, like RFC 8707's resource, may be repeated.
    const params = await readForm(c, ['resource', 'audience']);
    const { issuer, audiences } = urlsOf(tenant);
    // Read only where the ingress sent one: a request without the field costs nothing more.
    const certificate = c.req.header('client-cert') === undefined ? undefined : clientCertificateOf(c, rt, `${issuer}/${endpoint}`);
    const { client } = await authenticateClient(rt.db, tenant, {
      authorization: c.req.header('authorization'),
      params,
      audiences: audiences[endpoint],
      certificate,
    }, findClient);
    // A browser's request: served only to an origin of the client's redirect URIs, refused before
    // anything is spent (web/cors.ts).
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      if (!originAllowed(origin, client)) throw new OAuthError('invalid_request', 'This client does not accept requests from this origin: a browser client calls from one of its allowed_origins, by default the origins of its redirect URIs.', { status: 403 });
      readableBy.set(c.req.raw, origin);
    }
    return { rt, tenant, issuer, client, params, meta: requestMeta(c, rt), certificate };
  }

  app.post('/auth/:tenant/token', async (c) => {
    const g = await prepare(c, 'token');
    const grantType = g.params.get('grant_type');
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required.');
    if (!GRANTS.includes(grantType)) {
      throw new OAuthError('unsupported_grant_type', 'This grant type is not supported.');
    }
    if (!g.client.grantTypes.includes(grantType)) throw new OAuthError('unauthorized_client', 'The client may not use this grant type.');
    g.dpop = await checkTokenRequestProof(rt, g.tenant, g.client, `${g.issuer}/token`, c.req.header('dpop'));
    g.x5t = certificateBinding(g);
    // FAPI 2.0 Security Profile §5.3.2.1: "shall only issue sender-constrained access tokens" (DPoP or mTLS).
    if (g.client.securityProfile === 'fapi2' && !g.dpop && !g.x5t) throw new OAuthError('invalid_request', 'FAPI 2.0 clients must send a DPoP proof or a client certificate: plain bearer tokens are not issued to them.');
    const res = await grant(grantType, g);
    // RFC 9449 §8.2: "the authorization server MAY supply a new nonce value at any time".
    if (g.dpop) res.headers.set('dpop-nonce', rt.dpopNonces.current(g.tenant.id));
    return res;
  });
  const grant = (grantType: string, g: GrantContext) => {
    if (grantType === 'authorization_code') return authorizationCodeGrant(g);
    if (grantType === 'refresh_token') return refreshTokenGrant(g);
    if (grantType === DEVICE_CODE_GRANT) return deviceCodeGrant(g);
    if (grantType === TOKEN_EXCHANGE_GRANT) return tokenExchangeGrant(g);
    return clientCredentialsGrant(g);
  };

  app.post('/auth/:tenant/introspect', async (c) => introspect(await prepare(c, 'introspect')));
  app.post('/auth/:tenant/revoke', async (c) => revoke(await prepare(c, 'revoke')));
  app.post('/auth/:tenant/device_authorization', async (c) => deviceAuthorization(await prepare(c, 'device_authorization')));
  // One plain route per endpoint rather than one `{token|introspect|revoke}` pattern: a regex
  // parameter overlapping the POST routes makes Hono fall back from its RegExpRouter to the
  // TrieRouter, which costs every request ten times as much to match.
  const usePost = () => {
    throw new OAuthError('invalid_request', 'Use POST.', { status: 405, headers: { allow: 'POST' } });
  };
  for (const endpoint of ENDPOINTS) app.all(`/auth/:tenant/${endpoint}`, usePost);
  return app;
}

/**
 * RFC 8705 §3: a client registered with `tls_client_certificate_bound_access_tokens` gets access
 * tokens bound to the certificate of its TLS connection (`cnf.x5t#S256`), whatever way it
 * authenticated; without a certificate it gets none.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
function certificateBinding(g: GrantContext): string | undefined {
  if (!g.client.tlsClientCertificateBoundAccessTokens) return undefined;
  if (!g.certificate) throw new OAuthError('invalid_request', 'This client gets certificate-bound access tokens only: connect with its TLS client certificate.');
  return g.certificate.thumbprint;
}
