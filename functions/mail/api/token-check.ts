// Bearer access tokens of ZenoAuth, checked as a resource server checks them: a token of the
// tenant's own issuer with scope mail:send or mail:admin (zeno:admin includes both), or a
// zeno:admin token of the system tenant for any tenant.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { decodeJwt } from 'jose';
import { bearerError, bearerToken, remoteKeySets, scopesOf, verifyAccessToken } from '#shared/http/access-token';

export type MailScope = 'mail:send' | 'mail:admin';

/** Scopes that grant each need. */
const GRANTS: Record<MailScope, readonly string[]> = {
  'mail:send': ['mail:send', 'mail:admin', 'zeno:admin'],
  'mail:admin': ['mail:admin', 'zeno:admin'],
};

interface TokenCheckOptions {
  /** Where tenants' issuers live: the issuer of tenant t is `<issuerBase>/<t>`. */
  issuerBase: string;
  /** Where their JWKS are fetched: `<jwksBase>/<t>/jwks` (default issuerBase). */
  jwksBase?: string | undefined;
}

/** Resolves to the caller's subject, or throws a 401/403/503. */
export type TokenCheck = (authorization: string | undefined, tenant: string, need: MailScope) => Promise<{ sub: string }>;

/** Keeps at most this many tenants' key sets; the oldest is dropped first. */
const MAX_KEY_SETS = 500;

export function createTokenCheck(opts: TokenCheckOptions): TokenCheck {
  const keysOf = remoteKeySets((tenant) => `${opts.jwksBase ?? opts.issuerBase}/${tenant}/jwks`, MAX_KEY_SETS);
  const invalid = () => bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
  return async (authorization, tenant, need) => {
    const token = bearerToken(authorization);
    if (!token) throw bearerError(401, 'invalid_token', `A Bearer access token with scope ${need} is required.`);
    // Only the tenant's own issuer, or the system tenant's for its admins, is ever asked for keys.
    let claimedIssuer: unknown;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch {
      throw invalid();
    }
    const issuerTenant = claimedIssuer === `${opts.issuerBase}/${tenant}` ? tenant : claimedIssuer === `${opts.issuerBase}/system` ? 'system' : undefined;
    if (issuerTenant === undefined) throw invalid();
    const claims = await verifyAccessToken(token, keysOf(issuerTenant), `${opts.issuerBase}/${issuerTenant}`);
    // A system token reaches another tenant only as a platform admin.
    const granted = issuerTenant === tenant ? GRANTS[need] : ['zeno:admin'];
    if (!scopesOf(claims).some((s) => granted.includes(s))) throw bearerError(403, 'insufficient_scope', `The token needs scope ${need}.`, { scope: need });
    return { sub: claims.sub };
  };
}
