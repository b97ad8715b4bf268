// Minting and checking JWTs: RFC 9068 access tokens (EdDSA, typ at+jwt) and OIDC ID tokens
// (RS256 unless the client registered EdDSA), with the tenant's own keys only.
import { createHash, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { ActiveKey, KeyStore, Signer, SigningAlg } from './keys.js';

interface AccessTokenInput {
  issuer: string;
  tenantId: string;
  /** The user id, or the client id for client credentials (RFC 9068 §2.2). */
  sub: string;
  clientId: string;
  scope: string;
  audience: string[];
  ttlSeconds: number;
  authorizationDetails?: Record<string, unknown>[] | null | undefined;
  /** The token family (grant) id, so revoking the grant revokes its access tokens too. */
  grantId?: string | undefined;
  authTime?: Date | null | undefined;
  acr?: string | null | undefined;
  amr?: string[] | null | undefined;
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to. */
  jkt?: string | undefined;
  /** RFC 8705 §3.1: the thumbprint (x5t#S256) of the client certificate the token is bound to. */
  x5t?: string | undefined;
  /** RFC 8693 §4.1: the actor chain of a delegated token (the current actor outermost). */
  act?: Record<string, unknown> | undefined;
}

interface MintedToken {
  token: string;
  jti: string;
  expiresAt: number;
}

const now = () => Math.floor(Date.now() / 1000);

/** The protected header of the access tokens a key signs, base64url-encoded once per key. */
const accessTokenHeaders = new WeakMap<ActiveKey, string>();

function accessTokenHeader(key: ActiveKey): string {
  let segment = accessTokenHeaders.get(key);
  if (segment === undefined) {
    segment = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })).toString('base64url');
    accessTokenHeaders.set(key, segment);
  }
  return segment;
}

/**
 * Compact JWS with EdDSA over Ed25519 (RFC 7515 §7.1, RFC 8037 §3.1), signed synchronously with
 * node:crypto: the WebCrypto path hops through the thread pool for every signature, which
 * costs more than the signature itself on the token endpoint's hot path. The signing input is
 * ASCII (two base64url segments), so it is handed to the signer as latin1 bytes.
 */
function signEdDsaJws(headerSegment: string, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${headerSegment}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${cryptoSign(null, Buffer.from(input, 'latin1'), key).toString('base64url')}`;
}

/**
 * Signs an access token with the tenant's EdDSA key; `signer` is resolved before any transaction.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export function signAccessToken(signer: Signer, t: AccessTokenInput): MintedToken {
  if (signer.tenantId !== t.tenantId) throw new TypeError('the signer belongs to another tenant');
  const key = signer.key('EdDSA');
  const iat = now();
  const jti = randomUUID();
  const claims: JWTPayload & Record<string, unknown> = {
    iss: t.issuer,
    sub: t.sub,
    aud: t.audience.length === 1 ? t.audience[0] : t.audience,
    exp: iat + t.ttlSeconds,
    iat,
    jti,
    client_id: t.clientId,
    scope: t.scope,
  };
  if (t.authTime) claims.auth_time = Math.floor(t.authTime.getTime() / 1000);
  if (t.acr) claims.acr = t.acr;
  if (t.amr?.length) claims.amr = t.amr;
  if (t.authorizationDetails?.length) claims.authorization_details = t.authorizationDetails;
  if (t.grantId) claims.gid = t.grantId;
  if (t.jkt || t.x5t) claims.cnf = { ...(t.jkt ? { jkt: t.jkt } : {}), ...(t.x5t ? { 'x5t#S256': t.x5t } : {}) };
  if (t.act) claims.act = t.act;
  const token = signEdDsaJws(accessTokenHeader(key), claims, key.keyObject);
  return { token, jti, expiresAt: iat + t.ttlSeconds };
}

/**
 * Left half of the hash of the access token (OIDC Core §3.1.3.6): SHA-256 for RS256,
 * SHA-512 for EdDSA over Ed25519.
 */
function tokenHashClaim(alg: SigningAlg, value: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

interface IdTokenInput {
  issuer: string;
  tenantId: string;
  alg: SigningAlg;
  sub: string;
  clientId: string;
  nonce?: string | null | undefined;
  authTime: Date;
  acr: string;
  amr: string[];
  sessionId?: string | null | undefined;
  accessToken?: string | undefined;
  claims: Record<string, unknown>;
  ttlSeconds?: number;
}

/** @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken */
export async function signIdToken(signer: Signer, t: IdTokenInput): Promise<string> {
  if (signer.tenantId !== t.tenantId) throw new TypeError('the signer belongs to another tenant');
  const { kid, key } = signer.key(t.alg);
  const iat = now();
  const payload: JWTPayload & Record<string, unknown> = {
    ...t.claims,
    iss: t.issuer,
    sub: t.sub,
    aud: t.clientId,
    azp: t.clientId,
    exp: iat + (t.ttlSeconds ?? 3600),
    iat,
    auth_time: Math.floor(t.authTime.getTime() / 1000),
    acr: t.acr,
    amr: t.amr,
  };
  if (t.nonce) payload.nonce = t.nonce;
  if (t.sessionId) payload.sid = t.sessionId;
  if (t.accessToken) payload.at_hash = tokenHashClaim(t.alg, t.accessToken);
  return new SignJWT(payload).setProtectedHeader({ alg: t.alg, typ: 'JWT', kid }).sign(key);
}

export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}$/;

/**
 * Verifies a JWT we minted for this tenant: the header's `alg` must be one of `algs` (never
 * `none`, never HMAC), the `kid` must name one of the tenant's published keys, and `iss` must be
 * the tenant's issuer. A token of another tenant fails here: its kid is not this tenant's.
 */
export async function verifyOwnJwt(
  keys: KeyStore,
  tenantId: string,
  issuer: string,
  token: string,
  opts: { algs: SigningAlg[]; typ?: string; audience?: string; ignoreExpiration?: boolean },
): Promise<JWTPayload & Record<string, unknown>> {
  if (token.length > 8192 || !JWT_SHAPE.test(token)) throw new TokenRejected('not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenRejected('malformed header');
  }
  if (typeof header.alg !== 'string' || !(opts.algs as string[]).includes(header.alg)) throw new TokenRejected(`alg ${String(header.alg)} not accepted`);
  if (typeof header.kid !== 'string' || header.kid.length > 128) throw new TokenRejected('no kid');
  const found = await keys.verificationKey(tenantId, header.kid);
  if (!found || found.alg !== header.alg) throw new TokenRejected('unknown kid');
  try {
    const { payload } = await jwtVerify(token, found.key, {
      issuer,
      algorithms: [found.alg],
      ...(opts.typ ? { typ: opts.typ } : {}),
      ...(opts.audience ? { audience: opts.audience } : {}),
      ...(opts.ignoreExpiration ? { currentDate: new Date(0) } : {}),
      clockTolerance: 5,
    });
    return payload as JWTPayload & Record<string, unknown>;
  } catch (err) {
    throw new TokenRejected((err as Error).message);
  }
}
