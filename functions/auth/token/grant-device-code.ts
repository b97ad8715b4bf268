// grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4, §3.5): the device polls
// until its user approved at the verification page; the approved request is redeemed once.
import { recordAudit } from '../core/audit.js';
import { pollDeviceCode } from '../core/device-codes.js';
import { createFamily } from '../core/grants.js';
import { issueUserTokens } from '../core/issue.js';
import { OAuthError } from '../core/oauth-error.js';
import { findUserById } from '../core/users.js';
import { tokenJson } from '../web/token-json.js';
import type { GrantContext } from './grant-context.js';

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 */
export async function deviceCodeGrant(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  const deviceCode = params.get('device_code');
  if (!deviceCode || deviceCode.length > 200) throw new OAuthError('invalid_request', 'device_code is required.');
  const signer = rt.keys.cachedSigner(tenant.id) ?? (await rt.keys.signer(tenant.id));
  const outcome = await rt.transaction(async (tx) => {
    const poll = await pollDeviceCode(tx, tenant.id, client.id, deviceCode);
    switch (poll.outcome) {
      // §3.5 "authorization_pending: The authorization request is still pending as the end user
      // hasn't yet completed the user-interaction steps".
      case 'pending':
        return { error: new OAuthError('authorization_pending', 'The user has not yet approved the request.') };
      // §3.5 "slow_down: A variant of authorization_pending ... the interval MUST be increased by 5 seconds".
      case 'slow_down':
        return { error: new OAuthError('slow_down', `Poll at most every ${poll.interval} seconds.`) };
      case 'denied':
        return { error: new OAuthError('access_denied', 'The user denied the request.') };
      case 'expired':
        return { error: new OAuthError('expired_token', 'The device code has expired; start again.') };
      case 'used':
        return { error: new OAuthError('invalid_grant', 'The device code was already used.') };
      case 'unknown':
        return { error: new OAuthError('invalid_grant', 'The device code is invalid or was issued to another client.') };
    }
    const d = poll.row;
    const user = d.userId ? await findUserById(tx, tenant.id, d.userId) : undefined;
    // The consumption above rolls back with this throw; the code stays approved but the user is gone.
    if (!user?.active) throw new OAuthError('invalid_grant', 'The user is no longer active.');
    const family = await createFamily(tx, {
      tenantId: tenant.id,
      clientId: client.id,
      userId: user.id,
      sessionId: d.sessionId,
      scope: d.scope,
      resource: d.resource,
      authorizationDetails: d.authorizationDetails,
      authTime: d.authTime,
      acr: d.acr,
      amr: d.amr,
      // RFC 9449 §5: "Refresh tokens issued to public clients MUST be bound to the DPoP public key".
      dpopJkt: client.tokenEndpointAuthMethod === 'none' ? (g.dpop?.jkt ?? null) : null,
      // RFC 8705 §4: a public client's refresh tokens are bound to its certificate.
      certThumbprint: client.tokenEndpointAuthMethod === 'none' ? (g.x5t ?? null) : null,
    });
    const issued = await issueUserTokens(tx, signer, g.issuer, {
      tenant,
      client,
      family,
      user,
      scope: d.scope.split(' ').filter(Boolean),
      audience: d.resource,
      withRefresh: client.grantTypes.includes('refresh_token'),
      jkt: g.dpop?.jkt,
      x5t: g.x5t,
    });
    await recordAudit(tx, { tenantId: tenant.id, action: 'token.issued', outcome: 'success', actor: user.id, clientId: client.clientId, detail: { grant: 'device_code', jti: issued.jti, family: family.id } }, g.meta);
    return { response: issued.response };
  });
  if ('error' in outcome) throw outcome.error;
  return tokenJson(outcome.response);
}
