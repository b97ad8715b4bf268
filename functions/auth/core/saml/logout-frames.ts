// The front-channel half of single logout (SAML Profiles §4.4.3.3): for each SP a session signed in
// to (but the one that asked), a signed LogoutRequest over HTTP-Redirect, loaded in a frame of the
// signed-out page. Used by SAML single logout and by OIDC logout alike, so that ending the session
// one way ends it at every SAML SP too.
import type { Queryable } from '#shared/db/index';
import { redirectUrl } from './bindings.js';
import { samlEndpoints } from './idp-metadata.js';
import type { SamlKeyStore } from './keys.js';
import { buildLogoutRequest } from './logout.js';
import { participantsOf } from './participants.js';

/** The LogoutRequest URLs for the SPs of `sessionId` (SPs with a redirect-binding SLO URL). Read before the session ends. */
export async function samlLogoutFrames(q: Queryable, keys: SamlKeyStore, tenant: { id: string }, issuer: string, sessionId: string, initiatorSpId?: string): Promise<string[]> {
  const others = (await participantsOf(q, tenant.id, sessionId)).filter((p) => p.sp.id !== initiatorSpId && p.sp.sloUrl && p.sp.sloBinding === 'redirect');
  if (!others.length) return [];
  const idp = samlEndpoints(issuer);
  const key = await keys.active(tenant.id);
  return others.map((p) => {
    const { xml } = buildLogoutRequest({ idpEntityId: idp.entityId, destination: p.sp.sloUrl!, nameId: p.participant.nameId, nameIdFormat: p.participant.nameIdFormat, spEntityId: p.sp.entityId, sessionIndex: p.participant.sessionIndex });
    return redirectUrl(p.sp.sloUrl!, 'SAMLRequest', xml, undefined, key.privateKey);
  });
}
