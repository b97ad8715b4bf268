// A samlp:Response with one Assertion (SAML Core §2.3.3, §3.3.3; Web SSO Profile §4.1.4.2):
// bearer SubjectConfirmation bound to the ACS and the request, Audience = the SP, a short
// validity window, an AuthnStatement with the session index, and the mapped attributes. The
// Assertion and/or the Response are signed as the SP asks.
import { randomBytes } from 'node:crypto';
import { ASSERTION_TTL_SECONDS, CLOCK_SKEW_SECONDS, NS, STATUS } from './constants.js';
import { encryptAssertion, type KeyTransport } from './encryption.js';
import { signElement } from './signing.js';
import { esc } from './xml.js';

export interface SamlAttribute {
  name: string;
  friendlyName?: string | undefined;
  values: string[];
}

interface AssertionInput {
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  inResponseTo: string | undefined;
  nameId: string;
  nameIdFormat: string;
  sessionIndex: string;
  authnInstant: Date;
  /** When the IdP session ends (SAML Core §2.7.2 SessionNotOnOrAfter). */
  sessionNotOnOrAfter: Date;
  authnContextClass: string;
  attributes: SamlAttribute[];
}

interface SigningInput {
  privatePem: string;
  certificate: string;
  signResponse: boolean;
  signAssertion: boolean;
}

/** An xs:ID: a leading underscore, then 160 random bits in hex. */
export const newSamlId = () => `_${randomBytes(20).toString('hex')}`;
const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function statusXml(code: string, message?: string, subCode?: string): string {
  const inner = subCode ? `<samlp:StatusCode Value="${code}"><samlp:StatusCode Value="${subCode}"/></samlp:StatusCode>` : `<samlp:StatusCode Value="${code}"/>`;
  return `<samlp:Status>${inner}${message ? `<samlp:StatusMessage>${esc(message)}</samlp:StatusMessage>` : ''}</samlp:Status>`;
}

function assertionXml(id: string, a: AssertionInput, now: Date): string {
  const notBefore = instant(new Date(now.getTime() - CLOCK_SKEW_SECONDS * 1000));
  const notOnOrAfter = instant(new Date(now.getTime() + ASSERTION_TTL_SECONDS * 1000));
  const inResponseTo = a.inResponseTo ? ` InResponseTo="${esc(a.inResponseTo)}"` : '';
  const attrs = a.attributes.length
    ? `<saml:AttributeStatement>${a.attributes
        .map(
          (x) =>
            `<saml:Attribute Name="${esc(x.name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"${x.friendlyName ? ` FriendlyName="${esc(x.friendlyName)}"` : ''}>` +
            x.values.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
            `</saml:Attribute>`,
        )
        .join('')}</saml:AttributeStatement>`
    : '';
  return (
    `<saml:Assertion xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(now)}">` +
    `<saml:Issuer>${esc(a.idpEntityId)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${esc(a.nameIdFormat)}" SPNameQualifier="${esc(a.spEntityId)}">${esc(a.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(a.acsUrl)}"${inResponseTo}/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(a.spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(a.authnInstant)}" SessionIndex="${esc(a.sessionIndex)}" SessionNotOnOrAfter="${instant(a.sessionNotOnOrAfter)}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${esc(a.authnContextClass)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    attrs +
    `</saml:Assertion>`
  );
}

function responseXml(id: string, opts: { idpEntityId: string; destination: string; inResponseTo: string | undefined; now: Date; status: string; body: string }): string {
  const inResponseTo = opts.inResponseTo ? ` InResponseTo="${esc(opts.inResponseTo)}"` : '';
  return (
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(opts.now)}" Destination="${esc(opts.destination)}"${inResponseTo}>` +
    `<saml:Issuer>${esc(opts.idpEntityId)}</saml:Issuer>${opts.status}${opts.body}</samlp:Response>`
  );
}

/**
 * A successful Response, signed as `signing` says (the Assertion first, then the Response around
 * it). With `encryptTo` (the SP's encryption certificate and key transport) the Assertion is signed on its own, then
 * encrypted into an EncryptedAssertion, and the Response signature covers the encrypted form: sign
 * then encrypt, so the SP checks the Assertion's signature after decrypting (SAML Core §6.2).
 */
export async function buildSuccessResponse(a: AssertionInput, signing: SigningInput, now = new Date(), encryptTo?: { certificate: string; keyTransport: KeyTransport }): Promise<string> {
  const assertionId = newSamlId();
  const responseId = newSamlId();
  const status = statusXml(STATUS.success);
  let xml: string;
  if (encryptTo) {
    let assertion = assertionXml(assertionId, a, now);
    if (signing.signAssertion) assertion = signElement(assertion, { id: assertionId, localName: 'Assertion', privatePem: signing.privatePem, certificate: signing.certificate });
    xml = responseXml(responseId, { idpEntityId: a.idpEntityId, destination: a.acsUrl, inResponseTo: a.inResponseTo, now, status, body: await encryptAssertion(assertion, encryptTo.certificate, encryptTo.keyTransport) });
  } else {
    xml = responseXml(responseId, { idpEntityId: a.idpEntityId, destination: a.acsUrl, inResponseTo: a.inResponseTo, now, status, body: assertionXml(assertionId, a, now) });
    if (signing.signAssertion) xml = signElement(xml, { id: assertionId, localName: 'Assertion', privatePem: signing.privatePem, certificate: signing.certificate });
  }
  if (signing.signResponse) xml = signElement(xml, { id: responseId, localName: 'Response', privatePem: signing.privatePem, certificate: signing.certificate });
  return xml;
}

/** An error Response (no assertion), e.g. NoPassive; always signed. */
export function buildErrorResponse(
  o: { idpEntityId: string; acsUrl: string; inResponseTo: string | undefined; status: string; subStatus?: string; message?: string },
  signing: Pick<SigningInput, 'privatePem' | 'certificate'>,
  now = new Date(),
): string {
  const id = newSamlId();
  const xml = responseXml(id, { idpEntityId: o.idpEntityId, destination: o.acsUrl, inResponseTo: o.inResponseTo, now, status: statusXml(o.status, o.message, o.subStatus), body: '' });
  return signElement(xml, { id, localName: 'Response', privatePem: signing.privatePem, certificate: signing.certificate });
}

export { statusXml };
