// grant_type=refresh_token (RFC 6749 §6) with rotation: every use returns a new refresh token;
// presenting a used one again is reuse and revokes the whole family (RFC 9700 §4.14.2), unless the
// client allows a short grace for retries (refresh_token_reuse_grace).
import { recordAudit } from '../core/audit.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { revokeFamily, useRefreshToken } from '../core/grants.js';
import { issueUserTokens } from '../core/issue.js';
import { tokenJson } from '../web/token-json.js';
import { OAuthError } from '../core/oauth-error.js';
import { parseResources, parseScope } from '../core/request-params.js';
import { findUserById } from '../core/users.js';
import type { GrantContext } from './grant-context.js';

export async function refreshTokenGrant(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  const token = params.get('refresh_token');
  if (!token || token.length > 200) throw new OAuthError('invalid_request', 'refresh_token is required.');
  const requested = parseScope(params.get('scope') ?? undefined);
  const asked = parseResources(params.getAll('resource'));

  // The tenant's signing keys are loaded (on the pool) before the transaction takes a connection.
  const signer = rt.keys.cachedSigner(tenant.id) ?? (await rt.keys.signer(tenant.id));
  const outcome = await rt.transaction(async (tx) => {
    const use = await useRefreshToken(tx, tenant.id, token, { clientId: client.id, seconds: client.refreshReuseGraceSeconds });
    if (use.status === 'invalid') return { error: 'The refresh token is invalid, expired or revoked.' } as const;
    const family = use.family;
    if (use.status === 'reused') {
      const revoked = await revokeFamily(tx, family.id, 'refresh_token_reused');
      if (revoked) {
        await recordAudit(tx, { tenantId: tenant.id, action: 'refresh_token.reused', outcome: 'failure', actor: family.userId, clientId: client.clientId, detail: { family: family.id } }, g.meta);
        await rt.events.emit(tx, { type: AUTH_EVENTS.refreshTokenReused, data: { tenant: tenant.slug, clientId: client.clientId, familyId: family.id, userId: family.userId } });
      }
      return { error: 'The refresh token was already used; its grant is revoked.' } as const;
    }
    // Failures below throw inside the transaction: it rolls back and the token stays usable.
    if (family.clientId !== client.id) throw new OAuthError('invalid_grant', 'The refresh token was issued to another client.');
    const granted = family.scope.split(' ').filter(Boolean);
    // RFC 6749 §6: a narrower scope may be requested, never a broader one.
    if (requested.some((s) => !granted.includes(s))) throw new OAuthError('invalid_scope', 'The requested scope exceeds the grant.');
    if (asked.some((x) => !family.resource.includes(x))) throw new OAuthError('invalid_target', 'A resource was not part of the grant.');
    // RFC 9449 §5: a bound refresh token is used only with a proof of the same key.
    if (family.dpopJkt && g.dpop?.jkt !== family.dpopJkt) throw new OAuthError('invalid_grant', 'The refresh token is bound to another DPoP key.');
    // RFC 8705 §4: a bound refresh token is used only over a connection with the same certificate.
    if (family.certThumbprint && g.certificate?.thumbprint !== family.certThumbprint) throw new OAuthError('invalid_grant', 'The refresh token is bound to another client certificate.');
    const user = family.userId ? await findUserById(tx, tenant.id, family.userId) : undefined;
    if (!user?.active) throw new OAuthError('invalid_grant', 'The user is no longer active.');
    const issued = await issueUserTokens(tx, signer, g.issuer, {
      tenant,
      client,
      family,
      user,
      scope: requested.length ? requested : granted,
      audience: asked.length ? asked : family.resource,
      withRefresh: true,
      jkt: g.dpop?.jkt,
      x5t: g.x5t,
    });
    await recordAudit(tx, { tenantId: tenant.id, action: 'token.issued', outcome: 'success', actor: user.id, clientId: client.clientId, detail: { grant: 'refresh_token', jti: issued.jti, family: family.id, ...(use.graced ? { graced: true } : {}) } }, g.meta);
    return { response: issued.response } as const;
  });
  if ('error' in outcome) throw new OAuthError('invalid_grant', outcome.error ?? 'The grant is invalid.');
  return tokenJson(outcome.response);
}
