// DPoP proofs (RFC 9449 §4): the checks of §4.3 on a proof JWT, the key thumbprint a token is
// bound to (`cnf.jkt`, §6), the `ath` hash of an access token (§4.2) and the replay cache (§11.1).
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { decodeProtectedHeader, type JWK } from 'jose';
import { rowsOf, type Queryable } from '#shared/db/index';

/**
 * The proof algorithms we accept: EdDSA over Ed25519 (also by its fully-specified name Ed25519,
 * RFC 9864, which openid-client sends for an Ed25519 key) and ES256.
 */
export const DPOP_ALGS = ['EdDSA', 'Ed25519', 'ES256'] as const;
/**
 * §11.1: "the server MUST only accept DPoP proofs for a limited time after their creation".
 * A proof is good for this long after its `iat`, and no more than FUTURE_SKEW before it.
 */
const IAT_WINDOW_SECONDS = 60;
const FUTURE_SKEW_SECONDS = 5;
/** A proof is a small JWT (a public key, a URI, a hash): anything larger is not one. */
const MAX_PROOF_LENGTH = 4096;

type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce';

/** A refused proof; `code` is the RFC 9449 §12.2 error the endpoint answers with. */
export class DpopProofError extends Error {
  override readonly name = 'DpopProofError';
  readonly code: DpopErrorCode;
  constructor(code: DpopErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

interface ProofExpectations {
  /** The request's method (§4.3 item 8: "the htm claim matches the HTTP method"). */
  htm: string;
  /** The target URI without query and fragment (§4.3 item 9). */
  htu: string;
  /** At a resource: the access token presented with the proof (§4.3 item 12, `ath`). */
  accessToken?: string | undefined;
  /** Checks a proof's `nonce`; undefined when the endpoint asks for none. */
  nonce?: { required: boolean; isValid(nonce: string): boolean } | undefined;
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint (SHA-256) of the proof's public key: the `cnf.jkt` of bound tokens. */
  jkt: string;
  jti: string;
  iat: number;
}

const invalid = (message: string) => new DpopProofError('invalid_dpop_proof', message);

/** RFC 9449 §4.2 ath: base64url(SHA-256(ASCII(access token))). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/** "the htu claim matches the HTTP URI value for the HTTP request ..., ignoring any query and fragment parts" */
function normaliseHtu(value: string): string | undefined {
  try {
    const u = new URL(value);
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return undefined;
  }
}

interface ProofKey {
  publicKey: KeyObject;
  /** RFC 7638 thumbprint (SHA-256). */
  jkt: string;
}

/**
 * Imported proof keys by their RFC 7638 canonical form: a client signs every proof with the same
 * key, so the import and the thumbprint are done once per key, not once per request. Bounded:
 * the oldest entry goes when it is full (a key not cached is imported again, nothing more).
 */
const proofKeys = new Map<string, ProofKey>();
const PROOF_KEY_CACHE_SIZE = 1024;

/**
 * The public key of a proof's `jwk` for `alg` (Ed25519 for EdDSA/Ed25519, P-256 for ES256), or
 * undefined when the jwk is not such a key. RFC 7638 §3.2: the thumbprint hashes the required
 * members only, in lexicographic order, without whitespace.
 */
function proofKey(jwk: JWK, alg: string): ProofKey | undefined {
  const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 128 && /^[A-Za-z0-9_-]+$/.test(v);
  let canonical: string;
  if (alg === 'ES256') {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !str(jwk.x) || !str(jwk.y)) return undefined;
    canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  } else {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !str(jwk.x)) return undefined;
    canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  }
  const cached = proofKeys.get(canonical);
  if (cached) return cached;
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: JSON.parse(canonical) as Record<string, string>, format: 'jwk' });
  } catch {
    return undefined;
  }
  const entry = { publicKey, jkt: createHash('sha256').update(canonical).digest('base64url') };
  if (proofKeys.size >= PROOF_KEY_CACHE_SIZE) proofKeys.delete(proofKeys.keys().next().value!);
  proofKeys.set(canonical, entry);
  return entry;
}

/**
 * Checks one DPoP proof as §4.3 lists it, except the replay check (`rememberProof`, which needs
 * the database) and the binding to a token's key (the caller compares `jkt`).
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export async function verifyDpopProof(header: string | undefined, expect: ProofExpectations, nowSeconds = Math.floor(Date.now() / 1000)): Promise<VerifiedProof> {
  if (header === undefined || header === '') throw invalid('A DPoP proof is required.');
  // Item 1: "there is not more than one DPoP HTTP request header field"; joined headers carry a comma.
  if (header.includes(',')) throw invalid('Send exactly one DPoP header.');
  if (header.length > MAX_PROOF_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(header)) throw invalid('The DPoP proof is not a compact JWS.');
  let protectedHeader: ReturnType<typeof decodeProtectedHeader>;
  try {
    protectedHeader = decodeProtectedHeader(header);
  } catch {
    throw invalid('The DPoP proof header is malformed.');
  }
  // Items 4-6: typ dpop+jwt; an asymmetric algorithm we support; a public key, never a private one.
  if (protectedHeader.typ !== 'dpop+jwt') throw invalid('The DPoP proof must have typ dpop+jwt.');
  if (typeof protectedHeader.alg !== 'string' || !(DPOP_ALGS as readonly string[]).includes(protectedHeader.alg)) throw invalid(`The DPoP proof must be signed with ${DPOP_ALGS.join(', ')}.`);
  const jwk = protectedHeader.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== 'object') throw invalid('The DPoP proof must carry its public key as jwk.');
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) throw invalid('The DPoP proof jwk must be a public key.');
  const key = proofKey(jwk, protectedHeader.alg);
  if (!key) throw invalid('The DPoP proof jwk is not a valid key for its alg.');
  // JWS extensions (crit, unencoded payloads) have no place in a proof; refused, as jose refuses unknown ones.
  if ('crit' in protectedHeader || 'b64' in protectedHeader) throw invalid('The DPoP proof header must not use crit or b64.');
  const dot = header.lastIndexOf('.');
  let payload: Record<string, unknown>;
  try {
    // JWS (RFC 7518 §3.4): ES256 signatures are R || S, not DER; EdDSA takes no digest.
    const signingInput = Buffer.from(header.slice(0, dot), 'ascii');
    const signature = Buffer.from(header.slice(dot + 1), 'base64url');
    const ok = protectedHeader.alg === 'ES256'
      ? signature.length === 64 && verify('sha256', signingInput, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, signature)
      : verify(null, signingInput, key.publicKey, signature);
    if (!ok) throw new Error('signature');
    const parsed: unknown = JSON.parse(Buffer.from(header.slice(header.indexOf('.') + 1, dot), 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('payload');
    payload = parsed as Record<string, unknown>;
  } catch {
    throw invalid('The DPoP proof signature does not verify.');
  }
  // As a JWT validator would: exp and nbf, when present, are numbers and hold now.
  const { exp, nbf } = payload;
  if (exp !== undefined && (typeof exp !== 'number' || exp <= nowSeconds)) throw invalid('The DPoP proof has expired.');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds)) throw invalid('The DPoP proof is not yet valid.');
  const { jti, htm, htu, iat } = payload;
  // Item 7: the required claims.
  if (typeof jti !== 'string' || jti.length < 16 || jti.length > 256) throw invalid('The DPoP proof needs a jti of 16 to 256 characters.');
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number') throw invalid('The DPoP proof needs htm, htu and iat.');
  if (htm !== expect.htm) throw invalid('The DPoP proof htm does not match the request method.');
  if (normaliseHtu(htu) !== normaliseHtu(expect.htu)) throw invalid('The DPoP proof htu does not match the request URI.');
  // Item 11: "the creation time of the JWT, as determined by ... the iat claim, is within an acceptable window".
  if (iat > nowSeconds + FUTURE_SKEW_SECONDS || iat < nowSeconds - IAT_WINDOW_SECONDS) throw invalid('The DPoP proof iat is outside the accepted window.');
  // Item 10: "if the server provided a nonce value to the client, the nonce claim matches".
  if (expect.nonce) {
    const { nonce } = payload;
    if (nonce === undefined && expect.nonce.required) throw new DpopProofError('use_dpop_nonce', 'The authorization server requires a DPoP nonce.');
    if (nonce !== undefined && (typeof nonce !== 'string' || !expect.nonce.isValid(nonce))) throw new DpopProofError('use_dpop_nonce', 'The DPoP nonce is stale; use the new one.');
  }
  // Item 12: with an access token, ath is its hash.
  if (expect.accessToken !== undefined) {
    if (typeof payload.ath !== 'string') throw invalid('The DPoP proof needs ath when presented with an access token.');
    if (payload.ath !== accessTokenHash(expect.accessToken)) throw invalid('The DPoP proof ath does not match the access token.');
  }
  return { jkt: key.jkt, jti, iat };
}

/**
 * §11.1: "the server MUST ... ensure that ... jti values are not reused within the time window".
 * Remembered in PostgreSQL (every instance sees every proof) until the window is over; false
 * when the proof was seen before.
 */
export async function rememberProof(q: Queryable, tenantId: string, proof: VerifiedProof): Promise<boolean> {
  // One statement on every DPoP request: written as SQL rather than through the query builder,
  // whose per-call building cost more CPU than the round trip itself.
  const rows = rowsOf<{ jti: string }>(
    await q.execute(sql`insert into auth.dpop_proof_jtis (tenant_id, jti, expires_at)
      values (${tenantId}, ${proof.jti}, to_timestamp(${proof.iat + IAT_WINDOW_SECONDS + FUTURE_SKEW_SECONDS}))
      on conflict do nothing returning jti`),
  );
  return rows.length === 1;
}
