// Signing what ZenoLMS hands out: license tokens, machine files and revocation lists, as EdDSA
// (Ed25519) compact JWS with an explicit `typ`.
// @see https://www.rfc-editor.org/rfc/rfc8037#section-3.1
// @see https://www.rfc-editor.org/rfc/rfc8725#section-3.11 (use explicit typing)
import { CompactSign, type CryptoKey, type KeyObject } from 'jose';
import { TOKEN_TYPES, type LicenseClaims, type RevocationClaims } from './token-claims.js';

/** What signs: the product's active key and its kid (RFC 7638 thumbprint). */
export interface Signer {
  kid: string;
  key: KeyObject | CryptoKey;
}

/** Signs `payload` as a compact JWS with the given protected header (EdDSA). */
export async function signCompact(header: Record<string, unknown>, payload: Uint8Array, key: KeyObject | CryptoKey): Promise<string> {
  return new CompactSign(payload).setProtectedHeader({ ...header, alg: 'EdDSA' }).sign(key);
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** A license token (`typ: license+jwt`) or, with a machine, a machine file (`typ: machine+jwt`). */
export async function signLicenseToken(signer: Signer, claims: LicenseClaims): Promise<string> {
  const typ = claims.machine ? TOKEN_TYPES.machine : TOKEN_TYPES.license;
  return signCompact({ typ, kid: signer.kid }, json(claims), signer.key);
}

/** A signed revocation list (`typ: revocations+jwt`) that offline products import. */
export async function signRevocationList(signer: Signer, claims: RevocationClaims): Promise<string> {
  return signCompact({ typ: TOKEN_TYPES.revocations, kid: signer.kid }, json(claims), signer.key);
}
