// The proof that a `Client-Cert` field (RFC 9440) was set by the ingress that terminated the
// client's TLS connection: `Zeno-Client-Cert-Proof: v1.<t>.<verified>.<mac>`, the MAC an
// HMAC-SHA256, under a key only the ingress and the services that trust it hold
// (ZENO_CLIENT_CERT_KEY), of
//   "zeno-client-cert/v1\n" t "\n" verified "\n" method "\n" host path "\n" base64url(SHA-256(DER))
// where t is the Unix time, verified is 1 when the chain verified against the listener's CA
// (else 0), and host and path are those the client asked for (the host lower-case, no query).
// A backend that saw a proof cannot reuse it for another URL, another certificate or for long.
// @see https://www.rfc-editor.org/rfc/rfc9440#section-2
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The request fields the ingress owns: dropped from every client request, set only by it. */
export const CLIENT_CERT_FIELDS = ['client-cert', 'client-cert-chain', 'zeno-client-cert-proof'] as const;
/** How far a proof's time may be from ours, in seconds, either way. */
const PROOF_WINDOW_SECONDS = 60;

function mac(key: Buffer, t: string, verified: string, method: string, hostAndPath: string, digest: string): Buffer {
  return createHmac('sha256', key).update(`zeno-client-cert/v1\n${t}\n${verified}\n${method}\n${hostAndPath}\n${digest}`).digest();
}

/** base64url of SHA-256 of a certificate's DER bytes. */
export function certificateDigest(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** The proof field's value for a certificate whose digest is `digest`, presented for `method host path`. */
export function signClientCertProof(key: Buffer, digest: string, verified: boolean, method: string, host: string, path: string, now = Date.now()): string {
  const t = String(Math.floor(now / 1000));
  const v = verified ? '1' : '0';
  return `v1.${t}.${v}.${mac(key, t, v, method, `${host.toLowerCase()}${path}`, digest).toString('base64url')}`;
}

/** The DER bytes of a `Client-Cert` field (`:base64:`), or undefined when it is not one. */
export function parseClientCertField(field: string): Buffer | undefined {
  const m = /^:([A-Za-z0-9+/]{16,16384}={0,2}):$/.exec(field.trim());
  return m ? Buffer.from(m[1]!, 'base64') : undefined;
}

/**
 * Checks a proof for the certificate `der` presented for `method` at one of `urls` (absolute; only
 * host and path count). Returns whether the chain verified at the ingress, or undefined when the
 * proof is malformed, stale, for another URL or certificate, or not made with `key`.
 */
export function verifyClientCertProof(key: Buffer, proof: string, der: Buffer, method: string, urls: readonly string[], now = Date.now()): { verified: boolean } | undefined {
  const m = /^v1\.(\d{1,12})\.([01])\.([A-Za-z0-9_-]{43})$/.exec(proof.trim());
  if (!m) return undefined;
  const [, t, v, given] = m as unknown as [string, string, string, string];
  if (Math.abs(Number(t) - Math.floor(now / 1000)) > PROOF_WINDOW_SECONDS) return undefined;
  const digest = certificateDigest(der);
  const presented = Buffer.from(given, 'base64url');
  for (const url of urls) {
    const u = new URL(url);
    if (timingSafeEqual(mac(key, t, v, method, `${u.host.toLowerCase()}${u.pathname}`, digest), presented)) return { verified: v === '1' };
  }
  return undefined;
}
