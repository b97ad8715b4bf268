// POST {issuer}/par: pushed authorization requests (RFC 9126). The client authenticates, the
// request (or its signed request object, RFC 9101) is validated as the authorization endpoint
// would, and a single-use request_uri living 60 seconds is returned.
import type { Context } from 'hono';
import { authenticateClient } from '../core/client-auth.js';
import { tokenJson } from '../web/token-json.js';
import { createInteraction, PAR_TTL_SECONDS, REQUEST_URI_PREFIX } from '../core/interactions.js';
import { OAuthError } from '../core/oauth-error.js';
import { verifyRequestObject } from '../core/request-object.js';
import type { AuthRuntime } from '../core/runtime.js';
import { readForm, tenantOf } from '../web/request.js';
import { clientCertificateOf } from '../web/client-certificate.js';
import { chooseRedirectUri, validateAuthorizationParams } from './authorization-request.js';

export async function parEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), () => new OAuthError('invalid_request', 'Unknown issuer.', { status: 404 }));
  const params = await readForm(c);
  const issuer = rt.issuer(tenant.slug);
  const { client } = await authenticateClient(rt.db, tenant, {
    authorization: c.req.header('authorization'),
    params,
    audiences: [issuer, `${issuer}/par`, `${issuer}/token`],
    certificate: clientCertificateOf(c, rt, `${issuer}/par`),
  });
  // RFC 9126 §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be provided."
  if (params.has('request_uri')) throw new OAuthError('invalid_request', 'request_uri cannot be pushed.');
  if (params.getAll('request').length > 1) throw new OAuthError('invalid_request', 'request is repeated.');
  const requestObject = params.get('request');
  // RFC 9126 §3: a pushed request object stands for the request; only its parameters count (RFC 9101 §6.3).
  const request = requestObject !== null ? await verifyRequestObject(rt.db, tenant, client, issuer, requestObject) : params;
  if (request.getAll('redirect_uri').length > 1) throw new OAuthError('invalid_request', 'redirect_uri is repeated.');
  const redirectUri = chooseRedirectUri(client, request.get('redirect_uri') ?? undefined);
  if (!redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client.');
  const req = validateAuthorizationParams(client, redirectUri, request, { pushed: true, signed: requestObject !== null });
  const { handle } = await createInteraction(rt.db, { tenantId: tenant.id, clientId: client.id, kind: 'par', params: { ...req } });
  return tokenJson({ request_uri: REQUEST_URI_PREFIX + handle, expires_in: PAR_TTL_SECONDS }, 201);
}
