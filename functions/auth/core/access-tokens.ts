// Checking a bearer access token of a tenant: our signature (EdDSA, typ at+jwt), our issuer,
// not expired, not revoked (by jti or by its grant), and not DPoP-bound when shown as a Bearer token.
import type { JWTPayload } from 'jose';
import { isAccessTokenRevoked } from './grants.js';
import type { AuthRuntime } from './runtime.js';
import type { Tenant } from './schema.js';
import { TokenRejected, verifyOwnJwt } from './tokens.js';

export type AccessTokenClaims = JWTPayload & {
  client_id: string;
  scope: string;
  jti: string;
  exp: number;
  sub: string;
  gid?: string;
  authorization_details?: Record<string, unknown>[];
  /** RFC 9449 §6.1: the DPoP key the token is bound to; RFC 8705 §3.1: the client certificate. */
  cnf?: { jkt?: string; 'x5t#S256'?: string };
};

/** The thumbprint a token is bound to, if any (RFC 9449 §6.1 `cnf.jkt`). */
export function boundJkt(claims: AccessTokenClaims): string | undefined {
  return typeof claims.cnf?.jkt === 'string' ? claims.cnf.jkt : undefined;
}

/** The certificate thumbprint a token is bound to, if any (RFC 8705 §3.1 `cnf.x5t#S256`). */
export function boundX5t(claims: AccessTokenClaims): string | undefined {
  const x5t = claims.cnf?.['x5t#S256'];
  return typeof x5t === 'string' ? x5t : undefined;
}

/**
 * Returns the claims of a valid, unrevoked access token of `tenant`, or undefined. Presented as a
 * Bearer token (`as: 'bearer'`, the default), a DPoP-bound one is refused: "a DPoP-bound access
 * token [is] presented ... using the DPoP authentication scheme" (RFC 9449 §7.1), never as Bearer.
 * Introspection and revocation look at a token without using it (`as: 'subject'`).
 */
export async function checkAccessToken(rt: AuthRuntime, tenant: Tenant, token: string, as: 'bearer' | 'subject' = 'bearer'): Promise<AccessTokenClaims | undefined> {
  let claims: JWTPayload & Record<string, unknown>;
  try {
    claims = await verifyOwnJwt(rt.keys, tenant.id, rt.issuer(tenant.slug), token, { algs: ['EdDSA'], typ: 'at+jwt' });
  } catch (err) {
    if (err instanceof TokenRejected) return undefined;
    throw err;
  }
  if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return undefined;
  if (as === 'bearer' && claims.cnf !== undefined) return undefined;
  const gid = typeof claims.gid === 'string' ? claims.gid : undefined;
  if (await isAccessTokenRevoked(rt.db, tenant.id, claims.jti, gid, claims.client_id)) return undefined;
  return { ...claims, scope: typeof claims.scope === 'string' ? claims.scope : '' } as AccessTokenClaims;
}

/** Extracts a Bearer token from the Authorization header (RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
  return m?.[1];
}
