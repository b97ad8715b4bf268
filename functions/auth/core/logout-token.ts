// The logout token of OIDC Back-Channel Logout 1.0 §2.4: a JWT signed with the tenant's key, of
// type `logout+jwt`, naming the user (`sub`) and the session (`sid`), with the back-channel
// logout event and never a `nonce` (§2.4: "A nonce Claim MUST NOT be present").
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Signer, SigningAlg } from './keys.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** §2.4 `exp`: "it is RECOMMENDED that the value be no more than two minutes in the future". */
const LOGOUT_TOKEN_TTL_SECONDS = 120;

interface LogoutTokenInput {
  issuer: string;
  clientId: string;
  alg: SigningAlg;
  sub: string;
  sid: string;
}

/** @see https://openid.net/specs/openid-connect-backchannel-1_0.html#LogoutToken */
export async function signLogoutToken(signer: Signer, t: LogoutTokenInput): Promise<string> {
  const { kid, key } = signer.key(t.alg);
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: t.sub, sid: t.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
    .setProtectedHeader({ alg: t.alg, typ: 'logout+jwt', kid })
    .setIssuer(t.issuer)
    .setAudience(t.clientId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + LOGOUT_TOKEN_TTL_SECONDS)
    .setJti(randomUUID())
    .sign(key);
}
