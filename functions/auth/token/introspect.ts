// Token introspection (RFC 7662): any confidential client of the tenant may ask about access
// tokens; refresh tokens are described only to the client they were issued to.
import { boundJkt, checkAccessToken } from '../core/access-tokens.js';
import { findRefreshToken } from '../core/grants.js';
import { tokenJson } from '../web/token-json.js';
import { OAuthError } from '../core/oauth-error.js';
import { findClientById } from '../core/clients.js';
import type { GrantContext } from './grant-context.js';

const inactive = () => tokenJson({ active: false });

/** @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2 */
export async function introspect(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  if (client.tokenEndpointAuthMethod === 'none') throw new OAuthError('invalid_client', 'Public clients cannot introspect tokens.');
  const token = params.get('token');
  if (!token) throw new OAuthError('invalid_request', 'token is required.');
  if (token.length > 8192) return inactive();
  const hint = params.get('token_type_hint');
  if (token.split('.').length === 3 && hint !== 'refresh_token') {
    const claims = await checkAccessToken(rt, tenant, token, 'subject');
    if (!claims) return inactive();
    const { gid: _gid, ...rest } = claims;
    // RFC 9449 §6.2: the binding is reported as cnf.jkt and the token type as DPoP, for the
    // resource server to check the proof against; RFC 8705 §3.2: a certificate binding as
    // cnf.x5t#S256, for it to compare with the certificate of its own TLS connection.
    return tokenJson({ ...rest, active: true, token_type: boundJkt(claims) ? 'DPoP' : 'Bearer', iss: g.issuer });
  }
  const found = await findRefreshToken(rt.db, tenant.id, token);
  if (!found || found.family.clientId !== client.id) return inactive();
  const { token: row, family } = found;
  if (row.usedAt || family.revokedAt || row.expiresAt.getTime() < Date.now()) return inactive();
  const owner = await findClientById(rt.db, tenant.id, family.clientId);
  return tokenJson({
    active: true,
    token_type: 'refresh_token',
    iss: g.issuer,
    client_id: owner?.clientId,
    sub: family.userId ?? owner?.clientId,
    scope: family.scope,
    exp: Math.floor(row.expiresAt.getTime() / 1000),
    iat: Math.floor(row.createdAt.getTime() / 1000),
    ...(family.authorizationDetails ? { authorization_details: family.authorizationDetails } : {}),
    ...(family.dpopJkt || family.certThumbprint
      ? { cnf: { ...(family.dpopJkt ? { jkt: family.dpopJkt } : {}), ...(family.certThumbprint ? { 'x5t#S256': family.certThumbprint } : {}) } }
      : {}),
  });
}
