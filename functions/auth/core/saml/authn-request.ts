// An AuthnRequest (SAML Core §3.4.1), read from untrusted XML and checked: version, ID, issue
// instant within the clock skew, Destination, the issuing SP, and the ACS it names.
import type { Document } from '@xmldom/xmldom';
import { CLOCK_SKEW_SECONDS, NAMEID_FORMATS, NS } from './constants.js';
import { SamlError } from './saml-error.js';
import { onlyChild, textOf, rootOf } from './xml.js';

interface AuthnRequest {
  id: string;
  issuer: string;
  destination: string | undefined;
  forceAuthn: boolean;
  isPassive: boolean;
  acsUrl: string | undefined;
  acsIndex: number | undefined;
  nameIdFormat: string | undefined;
}

/** xs:ID is an NCName; we also cap its length (it is stored, once per SP). */
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]{0,255}$/;
/** How old a request may be: bounds how long its id must be remembered as used. */
export const REQUEST_MAX_AGE_SECONDS = 600;

const bool = (v: string | null) => v === 'true' || v === '1';

export function readAuthnRequest(doc: Document, now = Date.now()): AuthnRequest {
  const root = rootOf(doc);
  if (root.namespaceURI !== NS.protocol || root.localName !== 'AuthnRequest') throw new SamlError('invalid_request', 'The message is not a samlp:AuthnRequest.');
  if (root.getAttribute('Version') !== '2.0') throw new SamlError('version_mismatch', 'Only SAML 2.0 requests are accepted.');
  const id = root.getAttribute('ID') ?? '';
  if (!NCNAME.test(id)) throw new SamlError('invalid_request', 'The request ID is missing or not an xs:ID.');
  checkIssueInstant(root.getAttribute('IssueInstant'), now);
  const issuer = textOf(onlyChild(root, NS.assertion, 'Issuer'));
  if (!issuer) throw new SamlError('invalid_request', 'The request names no Issuer.');
  const policy = onlyChild(root, NS.protocol, 'NameIDPolicy');
  const format = policy?.getAttribute('Format') || undefined;
  if (format && !NAMEID_FORMATS.includes(format)) throw new SamlError('invalid_name_id_policy', 'The requested NameID format is not supported.');
  const index = root.getAttribute('AssertionConsumerServiceIndex');
  if (index !== null && !/^\d{1,5}$/.test(index)) throw new SamlError('invalid_request', 'AssertionConsumerServiceIndex is not an index.');
  const acsUrl = root.getAttribute('AssertionConsumerServiceURL') || undefined;
  if (acsUrl && index !== null) throw new SamlError('invalid_request', 'AssertionConsumerServiceURL and AssertionConsumerServiceIndex are mutually exclusive.');
  return {
    id,
    issuer,
    destination: root.getAttribute('Destination') || undefined,
    forceAuthn: bool(root.getAttribute('ForceAuthn')),
    isPassive: bool(root.getAttribute('IsPassive')),
    acsUrl,
    acsIndex: index === null ? undefined : Number(index),
    nameIdFormat: format,
  };
}

/** IssueInstant: present, not in the future beyond the skew, not older than the request lifetime. */
export function checkIssueInstant(value: string | null, now: number): void {
  const t = value ? Date.parse(value) : NaN;
  if (!value || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) || Number.isNaN(t)) throw new SamlError('invalid_request', 'IssueInstant is missing or not a UTC xs:dateTime.');
  if (t > now + CLOCK_SKEW_SECONDS * 1000) throw new SamlError('request_not_yet_valid', 'IssueInstant lies in the future.');
  if (t < now - REQUEST_MAX_AGE_SECONDS * 1000) throw new SamlError('request_expired', 'The request is too old.');
}

/**
 * SAML Bindings §3.4.5.2 / §3.5.5.2: a signed message's Destination "MUST" be present and name the
 * URL it was delivered to; an unsigned one, when present, must name it too.
 */
export function checkDestination(destination: string | undefined, expected: string, signed: boolean): void {
  if (destination === undefined && !signed) return;
  if (destination !== expected) throw new SamlError('destination_mismatch', 'The Destination does not name this endpoint.');
}
