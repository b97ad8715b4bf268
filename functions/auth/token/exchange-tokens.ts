// Reading the subject and actor tokens of a token exchange (RFC 8693 §2.1): only tokens this
// tenant issued, or JWTs of an issuer the client trusts (verified against that issuer's configured
// keys), each type checked as what it claims to be, revoked ones refused.
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { checkAccessToken } from '../core/access-tokens.js';
import { findRefreshToken } from '../core/grants.js';
import { TOKEN_TYPE } from '../core/grant-types.js';
import { OAuthError } from '../core/oauth-error.js';
import type { Client } from '../core/schema.js';
import { TokenRejected, verifyOwnJwt } from '../core/tokens.js';
import type { GrantContext } from './grant-context.js';

/** What an exchange needs of a presented token. */
interface PresentedToken {
  sub: string;
  /** The client the token was issued to. */
  clientId: string;
  scope: string[];
  /** Unix time after which the token is no longer valid (its exp), if it has one. */
  exp?: number | undefined;
  /** The grant (token family) the token belongs to, so revoking it revokes the exchanged token. */
  gid?: string | undefined;
  /** The token's own actor chain (RFC 8693 §4.1). */
  act?: Record<string, unknown> | undefined;
  /** The DPoP key the token is bound to. */
  jkt?: string | undefined;
  /** The client certificate the token is bound to (RFC 8705 §3.1). */
  x5t?: string | undefined;
}

const MAX_TOKEN_LENGTH = 8192;
const asObject = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * RFC 8693 §2.2.2: "If the request itself is not valid or if either the subject_token or
 * actor_token are invalid for any reason, or are unacceptable based on policy, the invalid_request
 * error code ... should be used".
 */
export async function readPresentedToken(g: GrantContext, role: 'subject' | 'actor', token: string, type: string, client: Client): Promise<PresentedToken> {
  const { rt, tenant } = g;
  const bad = (why: string) => new OAuthError('invalid_request', `The ${role}_token ${why}.`);
  if (token.length > MAX_TOKEN_LENGTH) throw bad('is too long');
  if (type === TOKEN_TYPE.refreshToken) {
    // A refresh token is a credential of its client: only that client may present it.
    const found = await findRefreshToken(rt.db, tenant.id, token);
    if (!found || found.family.clientId !== client.id) throw bad('is invalid or was issued to another client');
    const { token: row, family } = found;
    if (row.usedAt || family.revokedAt || row.expiresAt.getTime() < Date.now()) throw bad('is no longer valid');
    if (!family.userId) throw bad('has no user');
    return { sub: family.userId, clientId: client.clientId, scope: family.scope.split(' ').filter(Boolean), gid: family.id, jkt: family.dpopJkt ?? undefined, x5t: family.certThumbprint ?? undefined };
  }
  if (type === TOKEN_TYPE.accessToken || type === TOKEN_TYPE.jwt) {
    const claims = await checkAccessToken(rt, tenant, token, 'subject');
    if (claims) {
      const cnf = asObject(claims.cnf);
      return {
        sub: claims.sub,
        clientId: claims.client_id,
        scope: claims.scope.split(' ').filter(Boolean),
        exp: claims.exp,
        gid: claims.gid,
        act: asObject(claims.act),
        jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined,
        x5t: typeof cnf?.['x5t#S256'] === 'string' ? cnf['x5t#S256'] : undefined,
      };
    }
    const foreign = await readTrustedIssuerToken(g, type, token, client, bad);
    if (foreign) return foreign;
    if (type === TOKEN_TYPE.accessToken) throw bad('is invalid, expired or revoked');
  }
  if (type === TOKEN_TYPE.idToken || type === TOKEN_TYPE.jwt) {
    let claims;
    try {
      claims = await verifyOwnJwt(rt.keys, tenant.id, g.issuer, token, { algs: ['RS256', 'EdDSA'], typ: 'JWT' });
    } catch (err) {
      if (err instanceof TokenRejected) throw bad('is invalid or expired');
      throw err;
    }
    // An ID token is addressed to the client it was issued to (OIDC Core §2 aud); only it may present it.
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (typeof claims.sub !== 'string' || !aud.includes(client.clientId)) throw bad('was issued to another client');
    return { sub: claims.sub, clientId: client.clientId, scope: ['openid'], exp: claims.exp };
  }
  throw new OAuthError('invalid_request', `The ${role}_token_type is not supported.`);
}

/** Algorithms a trusted issuer's tokens may be signed with (never `none`, never HMAC). */
const FOREIGN_ALGS = ['EdDSA', 'Ed25519', 'ES256', 'RS256', 'PS256'];

/**
 * A JWT from an issuer the client trusts (another tenant, another site), verified against the
 * keys configured for that issuer: its signature, `iss`, `exp` and an `aud` naming this tenant's
 * issuer. Undefined when the token's `iss` is not among the client's trusted issuers.
 */
async function readTrustedIssuerToken(g: GrantContext, type: string, token: string, client: Client, bad: (why: string) => OAuthError): Promise<PresentedToken | undefined> {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return undefined;
  }
  const trusted = typeof iss === 'string' ? client.tokenExchangeTrustedIssuers.find((t) => t.issuer === iss) : undefined;
  // This tenant's own tokens are never checked against configured keys: only its own key set signs them.
  if (!trusted || trusted.issuer === g.issuer) return undefined;
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(token, createLocalJWKSet(trusted.jwks as JSONWebKeySet), {
      issuer: trusted.issuer,
      // The token must be meant for this tenant: another audience's token is not ours to accept.
      audience: g.issuer,
      algorithms: FOREIGN_ALGS,
      requiredClaims: ['sub', 'exp'],
      ...(type === TOKEN_TYPE.accessToken ? { typ: 'at+jwt' } : {}),
    }));
  } catch {
    throw bad('is invalid, expired or not addressed to this issuer');
  }
  if (typeof claims.sub !== 'string') throw bad('has no subject');
  const cnf = asObject(claims.cnf);
  const scope = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : typeof claims.azp === 'string' ? claims.azp : '';
  return {
    sub: claims.sub,
    clientId,
    // Another issuer's scopes mean nothing here beyond those this client may hold.
    scope: scope.filter((s) => client.scopes.includes(s)),
    exp: claims.exp,
    act: asObject(claims.act),
    jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined,
    x5t: typeof cnf?.['x5t#S256'] === 'string' ? cnf['x5t#S256'] : undefined,
  };
}
