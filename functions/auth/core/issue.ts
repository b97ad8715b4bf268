// Builds a token response (RFC 6749 §5.1) for a grant: the access token, an ID token when the
// scope has `openid`, and a rotated refresh token when the client may refresh.
import type { Queryable } from '#shared/db/index';
import { issueRefreshToken } from './grants.js';
import { groupsClaim } from './groups-claim.js';
import type { Signer } from './keys.js';
import type { Client, Tenant, TokenFamily, User } from './schema.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from './keys.js';
import { signAccessToken, signIdToken } from './tokens.js';

export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: `DPoP` when the access token is bound to a DPoP key. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  authorization_details?: Record<string, unknown>[];
}

interface GrantIssue {
  tenant: Tenant;
  client: Client;
  family: TokenFamily;
  user: User;
  scope: string[];
  audience: string[];
  nonce?: string | null | undefined;
  withRefresh: boolean;
  /** The DPoP key thumbprint of this token request's proof, when it carried one. */
  jkt?: string | undefined;
  /** The certificate thumbprint the access token is bound to (RFC 8705 §3), when bound. */
  x5t?: string | undefined;
}

/**
 * Mints tokens for a user grant inside the caller's transaction `tx`: the refresh token insert
 * runs in it, and the signatures need no database (`signer` was resolved before the transaction).
 */
export async function issueUserTokens(tx: Queryable, signer: Signer, issuer: string, g: GrantIssue): Promise<{ response: TokenResponse; jti: string }> {
  const ttl = Math.min(g.client.accessTokenTtl, MAX_TOKEN_LIFETIME_SECONDS);
  const scope = g.scope.join(' ');
  const at = signAccessToken(signer, {
    issuer,
    tenantId: g.tenant.id,
    sub: g.user.id,
    clientId: g.client.clientId,
    scope,
    audience: g.audience.length ? g.audience : [issuer],
    ttlSeconds: ttl,
    authorizationDetails: g.family.authorizationDetails,
    grantId: g.family.id,
    authTime: g.family.authTime,
    acr: g.family.acr,
    amr: g.family.amr,
    jkt: g.jkt,
    x5t: g.x5t,
  });
  const response: TokenResponse = { access_token: at.token, token_type: g.jkt ? 'DPoP' : 'Bearer', expires_in: ttl, scope };
  if (g.family.authorizationDetails?.length) response.authorization_details = g.family.authorizationDetails;
  if (g.scope.includes('openid')) {
    response.id_token = await signIdToken(signer, {
      issuer,
      tenantId: g.tenant.id,
      alg: g.client.idTokenSignedResponseAlg,
      sub: g.user.id,
      clientId: g.client.clientId,
      nonce: g.nonce,
      authTime: g.family.authTime ?? new Date(),
      acr: g.family.acr ?? '0',
      amr: g.family.amr ?? [],
      sessionId: g.family.sessionId,
      accessToken: at.token,
      claims: g.scope.includes('groups') ? await groupsClaim(tx, g.tenant.id, g.user.id, `${issuer}/userinfo`, g.client.groupsClaimFormat) : {},
    });
  }
  if (g.withRefresh) response.refresh_token = await issueRefreshToken(tx, g.family, g.client.refreshTokenTtl);
  return { response, jti: at.jti };
}
