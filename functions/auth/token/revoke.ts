// Token revocation (RFC 7009): a client revokes its own tokens. Revoking a refresh token revokes
// its grant (and with it the grant's access tokens); revoking an access token revokes that token.
import { checkAccessToken } from '../core/access-tokens.js';
import { recordAudit } from '../core/audit.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { findRefreshToken, revokeAccessToken, revokeFamily } from '../core/grants.js';
import { OAuthError } from '../core/oauth-error.js';
import type { GrantContext } from './grant-context.js';

/**
 * "The authorization server responds with HTTP status code 200 if the token has been revoked
 * successfully or if the client submitted an invalid token." @see https://www.rfc-editor.org/rfc/rfc7009#section-2.2
 */
export async function revoke(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  const token = params.get('token');
  if (!token) throw new OAuthError('invalid_request', 'token is required.');
  const ok = () => new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
  if (token.length > 8192) return ok();
  if (token.split('.').length === 3) {
    const claims = await checkAccessToken(rt, tenant, token, 'subject');
    if (!claims || claims.client_id !== client.clientId) return ok();
    await rt.transaction(async (tx) => {
      await revokeAccessToken(tx, tenant.id, claims.jti, claims.exp);
      await recordAudit(tx, { tenantId: tenant.id, action: 'token.revoked', outcome: 'success', actor: claims.sub, clientId: client.clientId, detail: { kind: 'access_token', jti: claims.jti } }, g.meta);
      await rt.events.emit(tx, { type: AUTH_EVENTS.tokenRevoked, data: { tenant: tenant.slug, clientId: client.clientId, kind: 'access_token' } });
    });
    return ok();
  }
  const found = await findRefreshToken(rt.db, tenant.id, token);
  if (!found || found.family.clientId !== client.id) return ok();
  await rt.transaction(async (tx) => {
    if (!(await revokeFamily(tx, found.family.id, 'revoked_by_client'))) return;
    await recordAudit(tx, { tenantId: tenant.id, action: 'token.revoked', outcome: 'success', actor: found.family.userId, clientId: client.clientId, detail: { kind: 'refresh_token', family: found.family.id } }, g.meta);
    await rt.events.emit(tx, { type: AUTH_EVENTS.tokenRevoked, data: { tenant: tenant.slug, clientId: client.clientId, kind: 'refresh_token' } });
  });
  return ok();
}
