// A SAML message as it arrives over HTTP-Redirect (query) or HTTP-POST (form): decoded, parsed as
// untrusted XML, with the binding's own signature (Redirect) kept apart for verification.
import type { Document } from '@xmldom/xmldom';
import type { Context } from 'hono';
import { decodePostMessage, decodeRedirectMessage, rawQuery, checkRelayState, verifyRedirectSignature, type MessageParam } from '../core/saml/bindings.js';
import { NS } from '../core/saml/constants.js';
import { SamlError } from '../core/saml/saml-error.js';
import { verifyRootSignature } from '../core/saml/signing.js';
import { childrenNamed, parseUntrustedXml, XML_LIMITS, rootOf } from '../core/saml/xml.js';
import { hasNul } from '../web/request.js';

interface IncomingMessage {
  binding: 'redirect' | 'post';
  param: MessageParam;
  xml: string;
  doc: Document;
  relayState: string | undefined;
  /** Verifies the message against the SP's certificates: the document to read, and whether it was signed. */
  verify(certificates: readonly string[]): { doc: Document; signed: boolean };
}

const formValue = (v: string | undefined) => (v === undefined ? undefined : decodeURIComponent(v.replace(/\+/g, ' ')));

/** Reads the message named by one of `params` from the request, or undefined when there is none. */
export async function readIncoming(c: Context, params: MessageParam[]): Promise<IncomingMessage | undefined> {
  if (c.req.method === 'GET') {
    const query = rawQuery(c.req.url);
    const param = params.find((p) => query.has(p));
    if (!param) return undefined;
    const xml = decodeRedirectMessage(query.get(param)!);
    const doc = parseUntrustedXml(xml);
    const relayState = checkRelayState(formValue(query.get('RelayState')));
    return {
      binding: 'redirect',
      param,
      xml,
      doc,
      relayState,
      verify(certificates) {
        // SAML Bindings §3.4.4.1: an enveloped signature "MUST be removed" for this binding; one left in is refused.
        if (childrenNamed(rootOf(doc), NS.dsig, 'Signature').length) throw new SamlError('signature_invalid', 'HTTP-Redirect messages carry their signature in the query.', 403);
        if (!certificates.length && query.has('Signature')) throw new SamlError('signature_invalid', 'The SP has no certificate to verify the signature with.', 403);
        return { doc, signed: certificates.length ? verifyRedirectSignature(query, param, certificates) : false };
      },
    };
  }
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new SamlError('invalid_binding', 'HTTP-POST messages come as an HTML form (application/x-www-form-urlencoded).', 415);
  const body = await c.req.text();
  if (body.length > XML_LIMITS.maxBytes * 2) throw new SamlError('message_too_large', `The message exceeds ${XML_LIMITS.maxBytes} bytes.`, 413);
  const form = new URLSearchParams(body);
  if (hasNul(form)) throw new SamlError('invalid_binding', 'The form contains a NUL character.');
  const param = params.find((p) => form.has(p));
  if (!param) return undefined;
  if (form.getAll(param).length > 1) throw new SamlError('invalid_binding', `${param} is repeated.`);
  const xml = decodePostMessage(form.get(param)!);
  const doc = parseUntrustedXml(xml);
  const relayState = checkRelayState(form.get('RelayState') ?? undefined);
  return {
    binding: 'post',
    param,
    xml,
    doc,
    relayState,
    verify(certificates) {
      if (!childrenNamed(rootOf(doc), NS.dsig, 'Signature').length) {
        if (doc.getElementsByTagNameNS(NS.dsig, 'Signature').length) throw new SamlError('signature_wrapping', 'The message carries signatures on other elements.', 403);
        return { doc, signed: false };
      }
      if (!certificates.length) throw new SamlError('signature_invalid', 'The SP has no certificate to verify the signature with.', 403);
      return { doc: verifyRootSignature(xml, doc, certificates), signed: true };
    },
  };
}
