// The front-channel half of single logout (SAML Profiles §4.4.3.3): for each SP a session signed in
// to (but the one that asked), a signed LogoutRequest sent in a frame of the signed-out page, over
// the SP's SLO binding: HTTP-Redirect (a URL with the signature in the query, SAML Bindings
// §3.4.4.1) or HTTP-POST (a form posted into the frame, the request signed enveloped, §3.5.4). Used
// by SAML single logout and by OIDC logout alike, so that ending the session one way ends it at
// every SAML SP too.
import type { Queryable } from '#shared/db/index';
import { redirectUrl } from './bindings.js';
import { samlEndpoints } from './idp-metadata.js';
import type { SamlKeyStore } from './keys.js';
import { buildLogoutRequest } from './logout.js';
import { participantsOf } from './participants.js';
import { signElement } from './signing.js';

/** A message posted into a frame: the form's action and its one field (base64 of `xml`). */
interface PostFrame {
  action: string;
  param: 'SAMLRequest';
  xml: string;
}
/** What a frame of the signed-out page loads: a URL (GET), or a form posted into it. */
export type LogoutFrame = string | PostFrame;

/** The LogoutRequests for the SPs of `sessionId` that have an SLO endpoint. Read before the session ends. */
export async function samlLogoutFrames(q: Queryable, keys: SamlKeyStore, tenant: { id: string }, issuer: string, sessionId: string, initiatorSpId?: string): Promise<LogoutFrame[]> {
  const others = (await participantsOf(q, tenant.id, sessionId)).filter((p) => p.sp.id !== initiatorSpId && p.sp.sloUrl);
  if (!others.length) return [];
  const idp = samlEndpoints(issuer);
  const key = await keys.active(tenant.id);
  return others.map((p): LogoutFrame => {
    const sloUrl = p.sp.sloUrl!;
    const { id, xml } = buildLogoutRequest({ idpEntityId: idp.entityId, destination: sloUrl, nameId: p.participant.nameId, nameIdFormat: p.participant.nameIdFormat, spEntityId: p.sp.entityId, sessionIndex: p.participant.sessionIndex });
    if (p.sp.sloBinding === 'post') {
      // SAML Profiles §4.4.4.1: the LogoutRequest "MUST be signed"; over HTTP-POST the signature is in the XML.
      return { action: sloUrl, param: 'SAMLRequest', xml: signElement(xml, { id, localName: 'LogoutRequest', privatePem: key.privatePem, certificate: key.certificate }) };
    }
    return redirectUrl(sloUrl, 'SAMLRequest', xml, undefined, key.privateKey);
  });
}
