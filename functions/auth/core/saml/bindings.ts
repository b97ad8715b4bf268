// SAML Bindings §3.4 (HTTP-Redirect: DEFLATE, base64, URL-encoded, signed query string) and §3.5
// (HTTP-POST: base64 in a form field). Decoding is bounded: a deflate bomb stops at the size cap.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ALG } from './constants.js';
import { certificatePem } from './certificate.js';
import { SamlError } from './saml-error.js';
import { XML_LIMITS } from './xml.js';

export type MessageParam = 'SAMLRequest' | 'SAMLResponse';

const B64 = /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/;

/** The raw (still URL-encoded) values of a query string, as the signature covers them. */
export function rawQuery(url: string): Map<string, string> {
  const q = url.indexOf('?');
  const out = new Map<string, string>();
  if (q < 0) return out;
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (out.has(k)) throw new SamlError('invalid_binding', `The parameter ${k.slice(0, 40)} is repeated.`);
    out.set(k, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

const urlDecode = (v: string) => {
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    throw new SamlError('invalid_binding', 'A query parameter is not URL-encoded properly.');
  }
};

/** HTTP-Redirect: the message's XML from its DEFLATE-d, base64 query value. */
export function decodeRedirectMessage(raw: string): string {
  const b64 = urlDecode(raw);
  if (b64.length > XML_LIMITS.maxBytes * 2) throw new SamlError('message_too_large', `The message exceeds ${XML_LIMITS.maxBytes} bytes.`, 413);
  if (!B64.test(b64)) throw new SamlError('invalid_binding', 'The message is not base64.');
  return inflateBounded(Buffer.from(b64, 'base64'));
}

/**
 * HTTP-POST: the message's XML from its base64 form value (SAML Bindings §3.5.4). Some SPs
 * (node-saml among them) DEFLATE it as for HTTP-Redirect; a value that does not start as XML is
 * inflated under the same cap.
 */
export function decodePostMessage(value: string): string {
  if (value.length > Math.ceil((XML_LIMITS.maxBytes * 4) / 3) + 8) throw new SamlError('message_too_large', `The message exceeds ${XML_LIMITS.maxBytes} bytes.`, 413);
  if (!B64.test(value)) throw new SamlError('invalid_binding', 'The message is not base64.');
  const bytes = Buffer.from(value, 'base64');
  const text = bytes.toString('utf8');
  return /^\s*</.test(text) ? text : inflateBounded(bytes);
}

function inflateBounded(bytes: Buffer): string {
  try {
    return inflateRawSync(bytes, { maxOutputLength: XML_LIMITS.maxBytes }).toString('utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new SamlError('message_too_large', `The message inflates beyond ${XML_LIMITS.maxBytes} bytes.`, 413);
    throw new SamlError('invalid_binding', 'The message is neither XML nor DEFLATE-encoded XML.');
  }
}

/**
 * Verifies an HTTP-Redirect signature. SAML Bindings §3.4.4.1: the signed octets are
 * `SAMLRequest=value&RelayState=value&SigAlg=value` with the values "as they appear in the URL".
 * @returns whether the query carried a signature (false: unsigned), throws when it does not verify.
 */
export function verifyRedirectSignature(query: Map<string, string>, param: MessageParam, certificates: readonly string[]): boolean {
  const signature = query.get('Signature');
  const sigAlg = query.get('SigAlg');
  if (signature === undefined && sigAlg === undefined) return false;
  if (!signature || !sigAlg) throw new SamlError('signature_invalid', 'Signature and SigAlg go together.', 403);
  if (urlDecode(sigAlg) !== ALG.rsaSha256) throw new SamlError('signature_algorithm', 'Only RSA-SHA256 signatures are accepted.', 403);
  const parts = [`${param}=${query.get(param) ?? ''}`];
  if (query.has('RelayState')) parts.push(`RelayState=${query.get('RelayState')}`);
  parts.push(`SigAlg=${sigAlg}`);
  const octets = Buffer.from(parts.join('&'), 'utf8');
  const sig = Buffer.from(urlDecode(signature), 'base64');
  for (const cert of certificates) {
    if (verify('sha256', octets, createPublicKey(certificatePem(cert)), sig)) return true;
  }
  throw new SamlError('signature_invalid', 'The signature does not verify against the registered certificates.', 403);
}

/** An HTTP-Redirect URL carrying `xml`, signed with RSA-SHA256 (SAML Bindings §3.4.4.1). */
export function redirectUrl(endpoint: string, param: MessageParam, xml: string, relayState: string | undefined, key: KeyObject): string {
  const enc = encodeURIComponent;
  const parts = [`${param}=${enc(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'))}`];
  if (relayState !== undefined) parts.push(`RelayState=${enc(relayState)}`);
  parts.push(`SigAlg=${enc(ALG.rsaSha256)}`);
  const signature = sign('sha256', Buffer.from(parts.join('&'), 'utf8'), key).toString('base64');
  return `${endpoint}${endpoint.includes('?') ? '&' : '?'}${parts.join('&')}&Signature=${enc(signature)}`;
}

/**
 * RelayState is returned as received. SAML Bindings §3.4.3 says a sender's RelayState "MUST NOT
 * exceed 80 bytes"; SPs that send a return URL there exceed it, so we accept up to 1024 bytes.
 */
export function checkRelayState(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (Buffer.byteLength(value, 'utf8') > 1024) throw new SamlError('invalid_relay_state', 'RelayState must not exceed 1024 bytes.');
  return value;
}
