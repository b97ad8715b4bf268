// grant_type=authorization_code (RFC 6749 §4.1.3) with PKCE (RFC 7636, S256 only): the code is
// redeemed atomically; a second redemption revokes every token the first one issued.
import { createHash } from 'node:crypto';
import { AUTH_EVENTS } from '../core/event-types.js';
import { recordAudit } from '../core/audit.js';
import { safeEqual } from '../core/crypto.js';
import { createFamily, redeemCode, revokeFamiliesOfCode } from '../core/grants.js';
import { issueUserTokens } from '../core/issue.js';
import { tokenJson } from '../web/token-json.js';
import { OAuthError } from '../core/oauth-error.js';
import { parseResources } from '../core/request-params.js';
import { findUserById } from '../core/users.js';
import { auditOrRefuse } from './audit-or-refuse.js';
import type { GrantContext } from './grant-context.js';

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export async function authorizationCodeGrant(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  const code = params.get('code');
  if (!code || code.length > 200) throw new OAuthError('invalid_request', 'code is required.');
  const redirectUri = params.get('redirect_uri');
  const verifier = params.get('code_verifier');
  if (verifier !== null && !VERIFIER.test(verifier)) throw new OAuthError('invalid_grant', 'The code_verifier is malformed.');

  // The tenant's signing keys are loaded (on the pool) before the transaction takes a connection.
  const signer = rt.keys.cachedSigner(tenant.id) ?? (await rt.keys.signer(tenant.id));
  const outcome = await rt.transaction(async (tx) => {
    const r = await redeemCode(tx, tenant.id, code);
    if (r.status === 'reused') {
      const revoked = await revokeFamiliesOfCode(tx, tenant.id, r.code.codeHash, 'code_reused');
      await recordAudit(tx, { tenantId: tenant.id, action: 'code.reused', outcome: 'failure', actor: r.code.userId, clientId: client.clientId, detail: { revokedFamilies: revoked } }, g.meta);
      await rt.events.emit(tx, { type: AUTH_EVENTS.codeReused, data: { tenant: tenant.slug, clientId: client.clientId, revokedFamilies: revoked } });
      return { error: 'The authorization code was already used; the tokens it issued are revoked.' } as const;
    }
    if (r.status !== 'ok') return { error: 'The authorization code is invalid or expired.' } as const;
    const c = r.code;
    if (c.clientId !== client.id) return { error: 'The authorization code was issued to another client.' } as const;
    // RFC 6749 §4.1.3: redirect_uri is required when it was in the request, and must be identical.
    if (redirectUri !== c.redirectUri) return { error: 'redirect_uri does not match the authorization request.' } as const;
    if (c.codeChallenge) {
      const computed = verifier ? createHash('sha256').update(verifier, 'ascii').digest('base64url') : '';
      if (!verifier || !safeEqual(computed, c.codeChallenge)) return { error: 'PKCE verification failed.' } as const;
    } else if (verifier) {
      // RFC 9700 §2.1.1: a verifier without a challenge in the request is refused (PKCE downgrade).
      return { error: 'A code_verifier was sent but the authorization request had no code_challenge.' } as const;
    }
    // RFC 8707 §2.2: the token request may narrow the resources to a subset of the granted ones.
    const asked = parseResources(params.getAll('resource'));
    if (asked.some((x) => !c.resource.includes(x))) return { target: true } as const;
    const user = await findUserById(tx, tenant.id, c.userId);
    if (!user?.active) return { error: 'The user is no longer active.' } as const;
    const scope = c.scope.split(' ').filter(Boolean);
    const family = await createFamily(tx, {
      tenantId: tenant.id,
      clientId: client.id,
      userId: user.id,
      sessionId: c.sessionId,
      codeHash: c.codeHash,
      scope: c.scope,
      resource: c.resource,
      authorizationDetails: c.authorizationDetails,
      authTime: c.authTime,
      acr: c.acr,
      amr: c.amr,
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
      scope,
      audience: asked.length ? asked : c.resource,
      nonce: c.nonce,
      withRefresh: client.grantTypes.includes('refresh_token'),
      jkt: g.dpop?.jkt,
      x5t: g.x5t,
    });
    await recordAudit(tx, { tenantId: tenant.id, action: 'token.issued', outcome: 'success', actor: user.id, clientId: client.clientId, detail: { grant: 'authorization_code', jti: issued.jti, family: family.id } }, g.meta);
    return { response: issued.response } as const;
  });
  if ('target' in outcome) throw new OAuthError('invalid_target', 'A resource was not part of the authorization grant.');
  if ('error' in outcome) {
    await auditOrRefuse(rt.auditBuffer.add({ tenantId: tenant.id, action: 'token.issued', outcome: 'failure', clientId: client.clientId, detail: { grant: 'authorization_code', reason: outcome.error } }, g.meta));
    throw new OAuthError('invalid_grant', outcome.error ?? 'The grant is invalid.');
  }
  return tokenJson(outcome.response);
}
