// DPoP at the token endpoint (RFC 9449 §5): checks the request's proof once the client is known,
// remembers its jti, and decides the key the issued tokens are bound to.
import { DpopProofError, rememberProof, verifyDpopProof, type VerifiedProof } from '../core/dpop.js';
import { OAuthError } from '../core/oauth-error.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Client, Tenant } from '../core/schema.js';

/**
 * The verified proof of a token request, or undefined when it carries none and the client does
 * not require one. §5.2: with `dpop_bound_access_tokens` "the authorization server MUST reject
 * token requests from the client that do not contain the DPoP header".
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export async function checkTokenRequestProof(rt: AuthRuntime, tenant: Tenant, client: Client, tokenEndpoint: string, header: string | undefined): Promise<VerifiedProof | undefined> {
  if (header === undefined && !client.dpopBoundAccessTokens) return undefined;
  const nonce = () => rt.dpopNonces.current(tenant.id);
  let proof: VerifiedProof;
  try {
    proof = await verifyDpopProof(header, {
      htm: 'POST',
      htu: tokenEndpoint,
      nonce: { required: client.dpopNonceRequired, isValid: (n) => rt.dpopNonces.isValid(tenant.id, n) },
    });
  } catch (err) {
    if (!(err instanceof DpopProofError)) throw err;
    // §8: "use_dpop_nonce" comes with the nonce to use, in the DPoP-Nonce header.
    throw new OAuthError(err.code, err.message, err.code === 'use_dpop_nonce' ? { headers: { 'dpop-nonce': nonce() } } : {});
  }
  if (!(await rememberProof(rt.db, tenant.id, proof))) throw new OAuthError('invalid_dpop_proof', 'The DPoP proof was already used.');
  return proof;
}
