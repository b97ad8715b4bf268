// Bearer access tokens of ZenoAuth, checked as any resource server checks them: signature by the
// issuer's published JWKS, issuer, `typ`, expiry. Each product then decides on client and scope.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { AppError } from './errors.js';

type RemoteKeys = ReturnType<typeof createRemoteJWKSet>;

/** Longer than any token ZenoAuth issues: refused before any parsing. */
const MAX_TOKEN_LENGTH = 8192;

/** RFC 6750 §3.1 errors, rendered as problem details with the Bearer challenge. */
export function bearerError(status: 401 | 403, code: 'invalid_token' | 'insufficient_scope', detail: string, opts: { realm?: string; scope?: string } = {}): AppError {
  const challenge = `Bearer realm="${opts.realm ?? 'zenokube'}", error="${code}"${opts.scope ? `, scope="${opts.scope}"` : ''}`;
  return new AppError(status, code, status === 401 ? 'Unauthorized' : 'Forbidden', { detail, headers: { 'www-authenticate': challenge } });
}

/** RFC 6750 §2.1 `Bearer <b64token>`; undefined when absent or malformed (or absurdly long). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
  return m?.[1];
}

/** An issuer's published keys, fetched when first needed and again when a token names a new kid. */
export function remoteKeys(jwksUrl: string): RemoteKeys {
  return createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
}

/** The issuers' key sets, one per key (a tenant), at most `max`: the oldest goes first. */
export function remoteKeySets(jwksUrlOf: (key: string) => string, max: number): (key: string) => RemoteKeys {
  const sets = new Map<string, RemoteKeys>();
  return (key) => {
    let set = sets.get(key);
    if (!set) {
      if (sets.size >= max) sets.delete(sets.keys().next().value!);
      set = remoteKeys(jwksUrlOf(key));
      sets.set(key, set);
    }
    return set;
  };
}

/**
 * The issuer's keys could not be had (no answer, a non-200 answer, not a JWKS): the token is not
 * judged, the request may be tried again. jose raises the bare JOSEError (`ERR_JOSE_GENERIC`) for
 * a non-200 JWKS answer, and a network failure is no JOSEError at all.
 */
function issuerFailed(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

/**
 * Verifies a ZenoAuth access token of `issuer` (EdDSA, `at+jwt`, RFC 9068 §2.1) and resolves to
 * its claims, with `sub` and `exp` present; a bad token is a 401, unreachable keys a 503.
 */
export async function verifyAccessToken(token: string, keys: RemoteKeys, issuer: string, realm?: string): Promise<JWTPayload & { sub: string; exp: number }> {
  const invalid = () => bearerError(401, 'invalid_token', 'The access token is invalid or expired.', realm === undefined ? {} : { realm });
  if (token.length > MAX_TOKEN_LENGTH) throw invalid();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, keys, { issuer, algorithms: ['EdDSA'], typ: 'at+jwt', clockTolerance: 5 }));
  } catch (err) {
    if (issuerFailed(err)) {
      throw new AppError(503, 'issuer_unavailable', 'Service Unavailable', { detail: 'The token issuer cannot be reached to check the token.', cause: err, headers: { 'retry-after': '5' } });
    }
    throw invalid();
  }
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw invalid();
  // RFC 9449 §7.2: a DPoP-bound token (cnf) is never accepted as a Bearer token; these APIs take Bearer only.
  if (claims.cnf !== undefined) throw invalid();
  return claims as JWTPayload & { sub: string; exp: number };
}

/** The scopes a token was granted. */
export function scopesOf(claims: JWTPayload): string[] {
  return typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
}
