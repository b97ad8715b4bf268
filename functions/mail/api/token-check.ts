// Bearer access tokens of ZenoAuth, checked as a resource server checks them: a token of the
// tenant's own issuer with scope mail:send or mail:admin (zeno:admin includes both), or a
// zeno:admin token of the system tenant for any tenant.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify } from 'jose';
import { AppError } from '#shared/http/errors';

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

function bearerError(status: 401 | 403, code: 'invalid_token' | 'insufficient_scope', detail: string, scope?: string): AppError {
  const challenge = `Bearer realm="zenokube", error="${code}"${scope ? `, scope="${scope}"` : ''}`;
  return new AppError(status, code, status === 401 ? 'Unauthorized' : 'Forbidden', { detail, headers: { 'www-authenticate': challenge } });
}

/** RFC 6750 §2.1 `Bearer <b64token>`. */
function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
  return m?.[1];
}

/** The issuer's keys could not be had: the token is not judged, the request may be sent again. */
function issuerFailed(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

/** Keeps at most this many tenants' key sets; the oldest is dropped first. */
const MAX_KEY_SETS = 500;

export function createTokenCheck(opts: TokenCheckOptions): TokenCheck {
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const keysOf = (tenant: string) => {
    let set = keySets.get(tenant);
    if (!set) {
      if (keySets.size >= MAX_KEY_SETS) keySets.delete(keySets.keys().next().value!);
      set = createRemoteJWKSet(new URL(`${opts.jwksBase ?? opts.issuerBase}/${tenant}/jwks`), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
      keySets.set(tenant, set);
    }
    return set;
  };
  const invalid = () => bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
  return async (authorization, tenant, need) => {
    const token = bearerToken(authorization);
    if (!token) throw bearerError(401, 'invalid_token', `A Bearer access token with scope ${need} is required.`);
    if (token.length > 8192) throw invalid();
    // Only the tenant's own issuer, or the system tenant's for its admins, is ever asked for keys.
    let claimedIssuer: unknown;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch {
      throw invalid();
    }
    const issuerTenant = claimedIssuer === `${opts.issuerBase}/${tenant}` ? tenant : claimedIssuer === `${opts.issuerBase}/system` ? 'system' : undefined;
    if (issuerTenant === undefined) throw invalid();
    let claims: Record<string, unknown>;
    try {
      // ZenoAuth signs access tokens with EdDSA and types them at+jwt (RFC 9068 §2.1).
      ({ payload: claims } = await jwtVerify(token, keysOf(issuerTenant), { issuer: `${opts.issuerBase}/${issuerTenant}`, algorithms: ['EdDSA'], typ: 'at+jwt', clockTolerance: 5 }));
    } catch (err) {
      if (issuerFailed(err)) {
        throw new AppError(503, 'issuer_unavailable', 'Service Unavailable', { detail: 'The token issuer cannot be reached to check the token.', cause: err, headers: { 'retry-after': '5' } });
      }
      throw invalid();
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw invalid();
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    // A system token reaches another tenant only as a platform admin.
    const granted = issuerTenant === tenant ? GRANTS[need] : ['zeno:admin'];
    if (!scopes.some((s) => granted.includes(s))) throw bearerError(403, 'insufficient_scope', `The token needs scope ${need}.`, need);
    return { sub: claims.sub };
  };
}
