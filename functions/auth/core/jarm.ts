// JWT Secured Authorization Response Mode (JARM): the authorization response's parameters
// signed by the tenant as a JWT with iss, aud and exp.
// @see https://openid.net/specs/oauth-v2-jarm-final.html#section-2.1
import { SignJWT } from 'jose';
import type { Signer, SigningAlg } from './keys.js';

/** The algorithms a client may ask its responses to be signed with (authorization_signing_alg_values_supported). */
export const AUTHORIZATION_SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'EdDSA'];
/** JARM §2.1: "the JWT ... SHOULD be short-lived" ("a maximum JWT lifetime of 10 minutes is RECOMMENDED"). */
const RESPONSE_TTL_SECONDS = 120;

export async function signAuthorizationResponse(
  signer: Signer,
  r: { issuer: string; clientId: string; alg: SigningAlg; params: Record<string, string | undefined> },
): Promise<string> {
  const { kid, key } = signer.key(r.alg);
  const claims: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.params)) if (v !== undefined) claims[k] = v;
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims, iss: r.issuer, aud: r.clientId, exp: iat + RESPONSE_TTL_SECONDS, iat }).setProtectedHeader({ alg: r.alg, kid }).sign(key);
}
