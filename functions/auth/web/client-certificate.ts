// The client certificate of a request, as the ingress forwards it (RFC 9440 Client-Cert with
// the ingress's proof, shared/http/client-cert-proof.ts). Believed only with a valid proof made
// with ZENO_CLIENT_CERT_KEY for this endpoint's URL: a client that writes the fields itself (the
// ingress drops them anyway), or a backend that replays what it saw for another URL, presents
// no certificate at all.
import type { Context } from 'hono';
import { parseClientCertField, verifyClientCertProof } from '#shared/http/client-cert-proof';
import { presentedCertificate, type PresentedCertificate } from '../core/mtls.js';
import type { AuthRuntime } from '../core/runtime.js';

/**
 * The certificate presented for `endpoint` (its public URL at the issuer, or at the mTLS alias
 * base), or undefined when there is none we can believe.
 */
export function clientCertificateOf(c: Context, rt: Pick<AuthRuntime, 'clientCertKey' | 'mtlsUrls'>, endpoint: string): PresentedCertificate | undefined {
  const key = rt.clientCertKey;
  const field = c.req.header('client-cert');
  const proof = c.req.header('zeno-client-cert-proof');
  if (!key || field === undefined || proof === undefined) return undefined;
  const der = parseClientCertField(field);
  if (!der) return undefined;
  const checked = verifyClientCertProof(key, proof, der, c.req.method, rt.mtlsUrls(endpoint));
  return checked ? presentedCertificate(der, checked.verified) : undefined;
}
