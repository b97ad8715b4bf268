// GET/POST {issuer}/userinfo (OIDC Core §5.3): the claims of the token's user for its scopes, for a
// Bearer token or a DPoP-bound one with its proof (RFC 9449 §7).
import type { Context } from 'hono';
import { bearerError } from '../core/oauth-error.js';
import type { AuthRuntime } from '../core/runtime.js';
import { groupValues } from '../core/groups-claim.js';
import { findUserById, userClaims } from '../core/users.js';
import { findClient } from '../core/clients.js';
import { allowOrigin, originAllowed } from '../web/cors.js';
import { protectedResourceToken } from '../web/protected-resource.js';
import { tenantOf } from '../web/request.js';

export async function userinfoEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), () => bearerError('invalid_token', 'Unknown issuer.'));
  let bodyToken: string | undefined;
  // RFC 6750 §2.2: the form-encoded body parameter, for POST.
  if (c.req.method === 'POST' && !c.req.header('authorization') && (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    bodyToken = new URLSearchParams(await c.req.text()).get('access_token') ?? undefined;
  }
  const claims = await protectedResourceToken(c, rt, tenant, `${rt.issuer(tenant.slug)}/userinfo`, bodyToken);
  const scopes = claims.scope.split(' ');
  if (!scopes.includes('openid')) throw bearerError('insufficient_scope', 'The access token lacks the openid scope.');
  const user = await findUserById(rt.db, tenant.id, claims.sub);
  if (!user?.active) throw bearerError('invalid_token', 'The access token is not for an active user.');
  const origin = c.req.header('origin');
  // The token's client: how it wants the groups listed, and which browser origins may read this.
  const client = scopes.includes('groups') || origin !== undefined ? await findClient(rt.db, tenant.id, claims.client_id) : undefined;
  const groups = scopes.includes('groups') ? await groupValues(rt.db, tenant.id, user.id, client?.groupsClaimFormat ?? 'names') : undefined;
  const res = c.json(userClaims(user, scopes, groups), 200, { 'cache-control': 'no-store' });
  // A browser's request: readable by the allowed origins of the token's client (web/cors.ts).
  if (origin !== undefined && client && originAllowed(origin, client)) allowOrigin(res, origin);
  return res;
}
