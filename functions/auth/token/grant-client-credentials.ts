// grant_type=client_credentials (RFC 6749 §4.4): one database round trip (the client lookup),
// the signature with a key imported once, the audit row group-committed before the token leaves.
import { MAX_TOKEN_LIFETIME_SECONDS } from '../core/keys.js';
import type { TokenResponse } from '../core/issue.js';
import { tokenJson } from '../web/token-json.js';
import { OAuthError } from '../core/oauth-error.js';
import { checkScopes, parseAuthorizationDetails, parseResources, parseScope } from '../core/request-params.js';
import { signAccessToken } from '../core/tokens.js';
import { auditOrRefuse } from './audit-or-refuse.js';
import type { GrantContext } from './grant-context.js';

/** Scopes that only mean something for an end-user grant. */
const USER_SCOPES = ['openid', 'profile', 'email', 'groups', 'offline_access'];

export async function clientCredentialsGrant(g: GrantContext): Promise<Response> {
  const { client, tenant, params } = g;
  // RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients."
  if (client.tokenEndpointAuthMethod === 'none') throw new OAuthError('unauthorized_client', 'Public clients cannot use client_credentials.');
  const requested = parseScope(params.get('scope') ?? undefined);
  if (requested.some((s) => USER_SCOPES.includes(s))) throw new OAuthError('invalid_scope', 'User scopes need an end-user grant.');
  checkScopes(requested, client.scopes);
  // RFC 6749 §3.3: an omitted scope means the client's default (all its non-user scopes).
  const scope = (requested.length ? requested : client.scopes.filter((s) => !USER_SCOPES.includes(s))).join(' ');
  const resources = parseResources(params.getAll('resource'));
  const details = parseAuthorizationDetails(params.get('authorization_details') ?? undefined, client.authorizationDetailsTypes);
  const ttl = Math.min(client.accessTokenTtl, MAX_TOKEN_LIFETIME_SECONDS);
  const signer = g.rt.keys.cachedSigner(tenant.id) ?? (await g.rt.keys.signer(tenant.id));
  const at = signAccessToken(signer, {
    issuer: g.issuer,
    tenantId: tenant.id,
    sub: client.clientId,
    clientId: client.clientId,
    scope,
    audience: resources.length ? resources : [g.issuer],
    ttlSeconds: ttl,
    authorizationDetails: details,
    jkt: g.dpop?.jkt,
    x5t: g.x5t,
  });
  await auditOrRefuse(g.rt.auditBuffer.add(
    { tenantId: tenant.id, action: 'token.issued', outcome: 'success', actor: client.clientId, clientId: client.clientId, detail: { grant: 'client_credentials', jti: at.jti } },
    g.meta,
  ));
  const body: TokenResponse = { access_token: at.token, token_type: g.dpop ? 'DPoP' : 'Bearer', expires_in: ttl, scope };
  if (details) body.authorization_details = details;
  return tokenJson(body);
}
