// Checking a bearer access token of a tenant: our signature (EdDSA, typ at+jwt), our issuer,
// not expired, not revoked (by jti or by its grant).
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
};

/** Returns the claims of a valid, unrevoked access token of `tenant`, or undefined. */
export async function checkAccessToken(rt: AuthRuntime, tenant: Tenant, token: string): Promise<AccessTokenClaims | undefined> {
  let claims: JWTPayload & Record<string, unknown>;
  try {
    claims = await verifyOwnJwt(rt.keys, tenant.id, rt.issuer(tenant.slug), token, { algs: ['EdDSA'], typ: 'at+jwt' });
  } catch (err) {
    if (err instanceof TokenRejected) return undefined;
    throw err;
  }
  if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return undefined;
  const gid = typeof claims.gid === 'string' ? claims.gid : undefined;
  if (await isAccessTokenRevoked(rt.db, tenant.id, claims.jti, gid, claims.client_id)) return undefined;
  return { ...claims, scope: typeof claims.scope === 'string' ? claims.scope : '' } as AccessTokenClaims;
}

/** Extracts a Bearer token from the Authorization header (RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
  return m?.[1];
}
