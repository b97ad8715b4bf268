// Reading SAML XML that anyone can send: refused before parsing when it declares a DTD or entities
// (XXE, billion laughs), capped in size, element count and depth, parsed by @xmldom/xmldom with
// every error fatal. Writing: text and attribute escaping for the messages we build.
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { SamlError } from './saml-error.js';

export const XML_LIMITS = Object.freeze({ maxBytes: 64 * 1024, maxDepth: 24, maxElements: 2000 });

/**
 * Parses untrusted XML. A DOCTYPE is refused outright: SAML messages never need one, and with no
 * DTD there is no entity to expand (no XXE, no billion laughs) whatever the parser would do.
 */
export function parseUntrustedXml(text: string, limits: { maxBytes: number; maxDepth: number; maxElements: number } = XML_LIMITS): Document {
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) throw new SamlError('message_too_large', `The message exceeds ${limits.maxBytes} bytes.`, 413);
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(text)) throw new SamlError('dtd_refused', 'Document type declarations and entities are not accepted.');
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        throw new SamlError('malformed_xml', 'The message is not well-formed XML.', 400, { cause: `${level}: ${String(message).slice(0, 200)}` });
      },
    }).parseFromString(text, 'text/xml') as unknown as Document;
  } catch (err) {
    if (err instanceof SamlError) throw err;
    throw new SamlError('malformed_xml', 'The message is not well-formed XML.', 400, { cause: err });
  }
  if (!doc?.documentElement) throw new SamlError('malformed_xml', 'The message has no root element.');
  if (doc.doctype) throw new SamlError('dtd_refused', 'Document type declarations are not accepted.');
  checkShape(doc.documentElement, limits);
  return doc;
}

function checkShape(root: Element, limits: { maxDepth: number; maxElements: number }): void {
  let count = 0;
  const walk = (el: Element, depth: number) => {
    if (depth > limits.maxDepth) throw new SamlError('message_too_deep', `The message nests deeper than ${limits.maxDepth} elements.`);
    if (++count > limits.maxElements) throw new SamlError('message_too_large', `The message has more than ${limits.maxElements} elements.`, 413);
    for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) walk(n as Element, depth + 1);
  };
  walk(root, 1);
}

/** The element children of `el` with this namespace and local name. */
export function childrenNamed(el: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local) out.push(n as Element);
  }
  return out;
}

/** The one child of that name, or undefined; two are refused (an attacker's second copy). */
export function onlyChild(el: Element, ns: string, local: string): Element | undefined {
  const found = childrenNamed(el, ns, local);
  if (found.length > 1) throw new SamlError('duplicate_element', `The message has more than one ${local}.`);
  return found[0];
}

export function textOf(el: Element | undefined): string | undefined {
  const t = el?.textContent?.trim();
  return t ? t : undefined;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
/** Escapes text and attribute values of the XML we write. */
export const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);

/** The root element of a parsed document (parseUntrustedXml guarantees there is one). */
export function rootOf(doc: Document): Element {
  const root = doc.documentElement;
  if (!root) throw new SamlError('malformed_xml', 'The message has no root element.');
  return root;
}
