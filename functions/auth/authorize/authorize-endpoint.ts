// GET/POST {issuer}/authorize (RFC 6749 §3.1, OIDC Core §3.1.2): resolve the client and the
// redirect URI (problems shown as a page), unpack a signed request object (RFC 9101), then
// validate the rest (problems redirected, in the client's response mode).
import type { Context } from 'hono';
import { findClient } from '../core/clients.js';
import { consumeInteraction, findInteraction, REQUEST_URI_PREFIX } from '../core/interactions.js';
import { OAuthError } from '../core/oauth-error.js';
import { verifyRequestObject } from '../core/request-object.js';
import type { AuthRuntime } from '../core/runtime.js';
import { checkDuplicates, requestMeta, tenantOf } from '../web/request.js';
import { chooseRedirectUri, responseModeOf, validateAuthorizationParams, type AuthzRequest } from './authorization-request.js';
import type { FlowContext } from './flow-context.js';
import { startFlow } from './flow.js';
import { browserParams } from './html-form.js';
import { AuthorizePageError, redirectError } from './responses.js';

export const unknownTenantPage = () => new AuthorizePageError(404, 'unknown_tenant', 'This sign-in address is not known.');

export async function authorizeEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const p = await browserParams(c);
  if (p.getAll('client_id').length > 1 || p.getAll('redirect_uri').length > 1) {
    throw new AuthorizePageError(400, 'invalid_request', 'The request repeats the client or the redirect address.');
  }
  const clientId = p.get('client_id');
  if (!clientId || clientId.length > 128) throw new AuthorizePageError(400, 'invalid_client', 'The request does not name a known application.');
  const client = await findClient(rt.db, tenant.id, clientId);
  if (!client) throw new AuthorizePageError(400, 'invalid_client', 'The request does not name a known application.');
  const issuer = rt.issuer(tenant.slug);
  const f: FlowContext = { rt, tenant, issuer, client, meta: requestMeta(c, rt) };

  const requestUri = p.get('request_uri');
  const requestObject = p.get('request');
  if (requestUri !== null && requestObject !== null) throw new AuthorizePageError(400, 'invalid_request', 'The request sends both request and request_uri.');
  if (requestUri !== null) {
    // RFC 9126 §4: the pushed request stands for the whole request; it is single-use.
    const handle = requestUri.startsWith(REQUEST_URI_PREFIX) ? requestUri.slice(REQUEST_URI_PREFIX.length) : '';
    const par = handle ? await findInteraction(rt.db, tenant.id, 'par', handle) : undefined;
    if (!par || par.clientId !== client.id || !(await consumeInteraction(rt.db, par.idHash))) {
      throw new AuthorizePageError(400, 'invalid_request_uri', 'This sign-in request has expired or was already used.');
    }
    return startFlow(c, f, par.params as unknown as AuthzRequest);
  }

  // RFC 9101 §6.3: with a request object, only its parameters count. Until it verifies, nothing in
  // it (the redirect URI least of all) can be trusted, so its failures are shown as a page.
  let params = p;
  if (requestObject !== null) {
    try {
      params = await verifyRequestObject(rt.db, tenant, client, issuer, requestObject);
    } catch (err) {
      if (err instanceof OAuthError) throw new AuthorizePageError(400, err.error, err.detail ?? err.error);
      throw err;
    }
  }
  const redirectUri = chooseRedirectUri(client, params.getAll('redirect_uri').length === 1 ? (params.get('redirect_uri') ?? undefined) : undefined);
  if (!redirectUri) throw new AuthorizePageError(400, 'invalid_redirect_uri', 'The application sent a redirect address it has not registered.');
  let req: AuthzRequest;
  try {
    checkDuplicates(params);
    req = validateAuthorizationParams(client, redirectUri, params, { pushed: false, signed: requestObject !== null });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    const state = params.getAll('state').length === 1 ? (params.get('state') ?? undefined) : undefined;
    const to = { redirectUri, state: state?.slice(0, 2048), responseMode: responseModeOf(params.get('response_mode')) };
    return redirectError(c, f, to, err.error, err.detail ?? err.error);
  }
  return startFlow(c, f, req);
}
