// The access token of a request to one of our protected resources (UserInfo): a Bearer token
// (RFC 6750) or a DPoP-bound one with its proof (RFC 9449 §7), each refused in its own scheme.
import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { boundJkt, boundX5t, checkAccessToken, type AccessTokenClaims } from '../core/access-tokens.js';
import { clientCertificateOf } from './client-certificate.js';
import { DPOP_ALGS, DpopProofError, rememberProof, verifyDpopProof } from '../core/dpop.js';
import { bearerError, dpopError } from '../core/oauth-error.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';

const TOKEN68 = /^([A-Za-z]+) ([A-Za-z0-9\-._~+/]+=*)$/;

/**
 * Checks the token of a request to `resourceUrl`. A DPoP-bound token must come as
 * `Authorization: DPoP` with a proof of the bound key whose `ath` is the token's hash (§7.1);
 * presented as Bearer it is refused (§7.2 downgrade). `bodyToken` is RFC 6750 §2.2's form
 * parameter, Bearer only.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export async function protectedResourceToken(c: Context, rt: AuthRuntime, tenant: Tenant, resourceUrl: string, bodyToken?: string): Promise<AccessTokenClaims> {
  const header = c.req.header('authorization')?.trim();
  const m = header ? TOKEN68.exec(header) : null;
  const scheme = m?.[1]!.toLowerCase();
  if (header && (!m || (scheme !== 'bearer' && scheme !== 'dpop'))) throw bearerError('invalid_request', 'Use the Bearer or DPoP authorization scheme.');
  const nonce = () => rt.dpopNonces.current(tenant.id);
  if (scheme === 'dpop') {
    const token = m![2]!;
    let proof;
    try {
      proof = await verifyDpopProof(c.req.header('dpop'), { htm: c.req.method, htu: resourceUrl, accessToken: token, nonce: { required: false, isValid: (n) => rt.dpopNonces.isValid(tenant.id, n) } });
    } catch (err) {
      if (!(err instanceof DpopProofError)) throw err;
      throw dpopError(err.code, err.message, DPOP_ALGS, err.code === 'use_dpop_nonce' ? nonce() : undefined);
    }
    const claims = await checkAccessToken(rt, tenant, token, 'subject');
    if (!claims) throw dpopError('invalid_token', 'The access token is invalid, expired or revoked.', DPOP_ALGS);
    const jkt = boundJkt(claims);
    if (!jkt) throw dpopError('invalid_token', 'The access token is not DPoP-bound; present it as a Bearer token.', DPOP_ALGS);
    // §4.3 item 12: "the public key to which the access token is bound matches the public key from the DPoP proof".
    if (jkt !== proof.jkt) throw dpopError('invalid_dpop_proof', 'The DPoP proof is signed with another key than the token is bound to.', DPOP_ALGS);
    if (!(await rememberProof(rt.db, tenant.id, proof))) throw dpopError('invalid_dpop_proof', 'The DPoP proof was already used.', DPOP_ALGS);
    return checkCertificateBinding(c, rt, resourceUrl, claims);
  }
  const token = m?.[2] ?? bodyToken;
  if (!token) throw bearerError('invalid_request', 'A Bearer or DPoP access token is required.');
  const claims = await checkAccessToken(rt, tenant, token, 'subject');
  if (!claims) throw bearerError('invalid_token', 'The access token is invalid, expired or revoked.');
  // §7.2: a bound token shown as Bearer is a downgrade; the resource answers with the DPoP scheme.
  if (boundJkt(claims)) throw dpopError('invalid_token', 'The access token is DPoP-bound; present it with the DPoP scheme and a proof.', DPOP_ALGS);
  return checkCertificateBinding(c, rt, resourceUrl, claims);
}

/**
 * RFC 8705 §3: a certificate-bound token is accepted only over a connection whose client
 * certificate has the token's `x5t#S256`; "the protected resource MUST reject the access token"
 * otherwise, with `invalid_token` (§3.1 refers to RFC 6750 §3.1).
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
function checkCertificateBinding(c: Context, rt: AuthRuntime, resourceUrl: string, claims: AccessTokenClaims): AccessTokenClaims {
  const x5t = boundX5t(claims);
  if (x5t === undefined) return claims;
  const presented = clientCertificateOf(c, rt, resourceUrl);
  if (!presented || !safeEqual(presented.thumbprint, x5t)) throw bearerError('invalid_token', 'The access token is bound to a client certificate this connection did not present.');
  return claims;
}

const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
