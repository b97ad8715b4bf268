// Single Logout messages (SAML Core §3.7): reading a LogoutRequest or LogoutResponse from an SP,
// writing ours to SPs.
import type { Document, Element } from '@xmldom/xmldom';
import { NS, STATUS } from './constants.js';
import { checkIssueInstant } from './authn-request.js';
import { newSamlId, statusXml } from './response.js';
import { SamlError } from './saml-error.js';
import { childrenNamed, esc, onlyChild, textOf, rootOf } from './xml.js';

interface LogoutRequestIn {
  id: string;
  issuer: string;
  destination: string | undefined;
  nameId: string;
  sessionIndexes: string[];
}

interface LogoutResponseIn {
  id: string;
  issuer: string;
  destination: string | undefined;
  inResponseTo: string | undefined;
  success: boolean;
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]{0,255}$/;

function header(root: Element, now: number) {
  if (root.getAttribute('Version') !== '2.0') throw new SamlError('version_mismatch', 'Only SAML 2.0 messages are accepted.');
  const id = root.getAttribute('ID') ?? '';
  if (!NCNAME.test(id)) throw new SamlError('invalid_request', 'The message ID is missing or not an xs:ID.');
  checkIssueInstant(root.getAttribute('IssueInstant'), now);
  const issuer = textOf(onlyChild(root, NS.assertion, 'Issuer'));
  if (!issuer) throw new SamlError('invalid_request', 'The message names no Issuer.');
  return { id, issuer, destination: root.getAttribute('Destination') || undefined };
}

export function readLogoutMessage(doc: Document, now = Date.now()): { kind: 'request'; message: LogoutRequestIn } | { kind: 'response'; message: LogoutResponseIn } {
  const root = rootOf(doc);
  if (root.namespaceURI !== NS.protocol) throw new SamlError('invalid_request', 'The message is not a SAML protocol message.');
  if (root.localName === 'LogoutRequest') {
    const h = header(root, now);
    const nameId = textOf(onlyChild(root, NS.assertion, 'NameID'));
    if (!nameId) throw new SamlError('invalid_request', 'The LogoutRequest names no NameID.');
    const sessionIndexes = childrenNamed(root, NS.protocol, 'SessionIndex').map((e) => textOf(e) ?? '').filter(Boolean);
    return { kind: 'request', message: { ...h, nameId, sessionIndexes } };
  }
  if (root.localName === 'LogoutResponse') {
    const h = header(root, now);
    const status = onlyChild(root, NS.protocol, 'Status');
    const code = status ? onlyChild(status, NS.protocol, 'StatusCode')?.getAttribute('Value') : undefined;
    return { kind: 'response', message: { ...h, inResponseTo: root.getAttribute('InResponseTo') || undefined, success: code === STATUS.success } };
  }
  throw new SamlError('invalid_request', 'The message is neither a LogoutRequest nor a LogoutResponse.');
}

const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function buildLogoutRequest(o: { idpEntityId: string; destination: string; nameId: string; nameIdFormat: string; spEntityId: string; sessionIndex: string }, now = new Date()): { id: string; xml: string } {
  const id = newSamlId();
  const xml =
    `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(now)}" Destination="${esc(o.destination)}">` +
    `<saml:Issuer>${esc(o.idpEntityId)}</saml:Issuer>` +
    `<saml:NameID Format="${esc(o.nameIdFormat)}" SPNameQualifier="${esc(o.spEntityId)}">${esc(o.nameId)}</saml:NameID>` +
    `<samlp:SessionIndex>${esc(o.sessionIndex)}</samlp:SessionIndex></samlp:LogoutRequest>`;
  return { id, xml };
}

export function buildLogoutResponse(o: { idpEntityId: string; destination: string; inResponseTo: string; status: string }, now = new Date()): { id: string; xml: string } {
  const id = newSamlId();
  const xml =
    `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(now)}" Destination="${esc(o.destination)}" InResponseTo="${esc(o.inResponseTo)}">` +
    `<saml:Issuer>${esc(o.idpEntityId)}</saml:Issuer>${statusXml(o.status)}</samlp:LogoutResponse>`;
  return { id, xml };
}
