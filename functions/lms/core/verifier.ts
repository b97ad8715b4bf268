// The offline verifier products embed: checks a license token or machine file against a pinned
// public key set, without a network, and returns a structured verdict (never throws for a bad
// token). Verification only: what the product does about the verdict (enforcement) is its own call.
// Depends on jose alone, so it can be copied into a product as it is.
// @see https://www.rfc-editor.org/rfc/rfc8037#section-3.1 (EdDSA in JOSE)
// @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1 (perform algorithm verification)
import { compactVerify, createLocalJWKSet, errors, type JSONWebKeySet } from 'jose';
import { TOKEN_TYPES, type LicenseClaims, type RevocationClaims } from './token-claims.js';

/** Stable verdict codes; `valid` is true for VALID and GRACE_PERIOD only. */
type VerdictCode =
  | 'VALID'
  | 'GRACE_PERIOD'
  | 'MALFORMED'
  | 'ALG_NOT_ALLOWED'
  | 'UNKNOWN_KEY'
  | 'BAD_SIGNATURE'
  | 'WRONG_TYPE'
  | 'WRONG_ISSUER'
  | 'WRONG_AUDIENCE'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'FINGERPRINT_MISMATCH'
  | 'REVOKED'
  | 'REVOCATION_LIST_INVALID'
  | 'CLOCK_ROLLBACK';

interface Verdict {
  valid: boolean;
  code: VerdictCode;
  detail: string;
  /** The token's claims once its signature checked out (also on EXPIRED, REVOKED, …). */
  claims?: LicenseClaims;
  kind?: 'license' | 'machine';
}

/**
 * Where the verifier remembers the latest time it has seen (seconds), to refuse a clock that was
 * set back to revive an expired license. A file, the product's own store, or memory.
 */
export interface ClockStore {
  read(): number | undefined | Promise<number | undefined>;
  write(seconds: number): void | Promise<void>;
}

interface VerifyOptions {
  /** The product's public keys, pinned in the product (the JWKS ZenoLMS publishes). */
  keys: JSONWebKeySet;
  /** The product id: the token's `aud` must name it. */
  audience: string;
  /** When set, the token's `iss` must be this (`{base}/lms/{tenant}`). */
  issuer?: string;
  /** This machine's fingerprint: required by node-locked tokens and machine files. */
  fingerprint?: string;
  /** A signed revocation list of the same product, as `GET …/revocations` answers it. */
  revocations?: string;
  /** Seconds since the epoch; the system clock by default. */
  now?: number;
  clock?: ClockStore;
  /** Clock skew tolerated on `nbf`, `iat` and the rollback guard (seconds, default 60). */
  skew?: number;
}

/** Only EdDSA: `alg: none` and every other algorithm are refused before any key is looked at. */
const ALGORITHMS = ['EdDSA', 'Ed25519'];

const verdict = (code: VerdictCode, detail: string, extra: Partial<Verdict> = {}): Verdict => ({
  valid: code === 'VALID' || code === 'GRACE_PERIOD',
  code,
  detail,
  ...extra,
});

type JwsResult = { ok: true; header: Record<string, unknown>; payload: Uint8Array } | { ok: false; verdict: Verdict };

/** Checks a compact JWS's signature against `keys`; EdDSA only. */
export async function verifyJws(token: string, keys: JSONWebKeySet): Promise<JwsResult> {
  if (typeof token !== 'string' || token.length > 65_536) return { ok: false, verdict: verdict('MALFORMED', 'Not a compact JWS of a sensible size.') };
  try {
    const { protectedHeader, payload } = await compactVerify(token.trim(), createLocalJWKSet(keys), { algorithms: ALGORITHMS });
    return { ok: true, header: protectedHeader as Record<string, unknown>, payload };
  } catch (err) {
    if (err instanceof errors.JOSEAlgNotAllowed) return { ok: false, verdict: verdict('ALG_NOT_ALLOWED', 'The token is not signed with EdDSA.') };
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
      return { ok: false, verdict: verdict('UNKNOWN_KEY', 'No pinned key matches the token (kid).') };
    }
    if (err instanceof errors.JWSSignatureVerificationFailed) return { ok: false, verdict: verdict('BAD_SIGNATURE', 'The signature does not verify.') };
    return { ok: false, verdict: verdict('MALFORMED', 'The token is not a well-formed JWS.') };
  }
}

function parseJson(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function wellFormed(c: Record<string, unknown>): c is Record<string, unknown> & LicenseClaims {
  const p = c.policy as Record<string, unknown> | undefined;
  return typeof c.sub === 'string' && typeof c.aud === 'string' && typeof c.iss === 'string'
    && isNum(c.iat) && isNum(c.nbf) && isNum(c.exp) && Array.isArray(c.entitlements)
    && !!p && typeof p === 'object' && isNum(p.grace) && p.grace >= 0
    && (c.fingerprint === undefined || typeof c.fingerprint === 'string');
}

/** Is `licenseId` on the signed list? A list that does not verify is a verdict of its own. */
async function checkRevocations(list: string, opts: VerifyOptions, licenseId: string): Promise<Verdict | 'revoked' | 'clear'> {
  const jws = await verifyJws(list, opts.keys);
  if (!jws.ok) return verdict('REVOCATION_LIST_INVALID', `The revocation list does not verify: ${jws.verdict.code}.`);
  const body = parseJson(jws.payload) as Partial<RevocationClaims> | undefined;
  if (jws.header.typ !== TOKEN_TYPES.revocations || !body || body.aud !== opts.audience || !Array.isArray(body.revoked)) {
    return verdict('REVOCATION_LIST_INVALID', 'The revocation list is not a revocation list of this product.');
  }
  return body.revoked.includes(licenseId) ? 'revoked' : 'clear';
}

/**
 * Verifies a license token or machine file offline. Order: signature (EdDSA, pinned keys), type,
 * issuer, audience, the clock-rollback guard, `nbf`, `exp` with the policy's grace period, the
 * node lock, the revocation list.
 */
export async function verifyLicense(token: string, opts: VerifyOptions): Promise<Verdict> {
  const skew = opts.skew ?? 60;
  const now = Math.floor(opts.now ?? Date.now() / 1000);
  const jws = await verifyJws(token, opts.keys);
  if (!jws.ok) return jws.verdict;
  const kind = jws.header.typ === TOKEN_TYPES.license ? 'license' : jws.header.typ === TOKEN_TYPES.machine ? 'machine' : undefined;
  if (!kind) return verdict('WRONG_TYPE', `The token's typ is not ${TOKEN_TYPES.license} or ${TOKEN_TYPES.machine}.`);
  const claims = parseJson(jws.payload);
  if (!claims || !wellFormed(claims)) return verdict('MALFORMED', 'The token lacks the claims of a license.');
  const seen = { claims, kind } as const;
  if (opts.issuer !== undefined && claims.iss !== opts.issuer) return verdict('WRONG_ISSUER', 'The token was issued by another issuer.', seen);
  if (claims.aud !== opts.audience) return verdict('WRONG_AUDIENCE', 'The token is for another product.', seen);
  const lastSeen = await opts.clock?.read();
  // A clock behind a time already seen, or behind the token's own issue time, was set back.
  if ((lastSeen !== undefined && now < lastSeen - skew) || claims.iat > now + skew) {
    return verdict('CLOCK_ROLLBACK', 'The clock is earlier than a time already seen.', seen);
  }
  if (claims.nbf > now + skew) return verdict('NOT_YET_VALID', 'The token is not valid yet.', seen);
  let code: VerdictCode = 'VALID';
  if (now >= claims.exp) {
    if (now >= claims.exp + claims.policy.grace) return verdict('EXPIRED', 'The token has expired, grace period included.', seen);
    code = 'GRACE_PERIOD';
  }
  if (kind === 'machine' || claims.fingerprint !== undefined) {
    if (opts.fingerprint === undefined || claims.fingerprint !== opts.fingerprint) {
      return verdict('FINGERPRINT_MISMATCH', 'The token is bound to another machine.', seen);
    }
  }
  if (opts.revocations !== undefined) {
    const r = await checkRevocations(opts.revocations, opts, claims.sub);
    if (r === 'revoked') return verdict('REVOKED', 'The license is on the revocation list.', seen);
    if (r !== 'clear') return { ...r, ...seen };
  }
  await opts.clock?.write(Math.max(lastSeen ?? 0, now, claims.iat));
  return verdict(code, code === 'VALID' ? 'The license is genuine and current.' : 'The license has expired and is in its grace period.', seen);
}
