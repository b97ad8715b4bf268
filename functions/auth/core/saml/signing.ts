// XML signatures with xml-crypto: enveloped RSA-SHA256 over exclusive canonicalisation (XML-DSig
// 1.1, SAML Core §5.4), and the verification of a signature on exactly one element, the root of
// the message, so that a signature wrapping attack has nothing to point at.
import type { Document } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { ALG, NS } from './constants.js';
import { certificatePem } from './certificate.js';
import { SamlError } from './saml-error.js';
import { childrenNamed, parseUntrustedXml, rootOf } from './xml.js';

/**
 * Signs the element with `ID="id"` and places the signature right after its `Issuer`, where SAML
 * Core §5.4.1's schema puts it ("The <ds:Signature> element MUST be the first child after Issuer").
 */
export function signElement(xml: string, opts: { id: string; localName: string; privatePem: string; certificate: string }): string {
  const sig = new SignedXml({
    privateKey: opts.privatePem,
    publicCert: certificatePem(opts.certificate),
    signatureAlgorithm: ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  sig.addReference({
    xpath: `//*[local-name(.)='${opts.localName}' and @ID='${opts.id}']`,
    transforms: [ALG.enveloped, ALG.excC14n],
    digestAlgorithm: ALG.sha256,
  });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[local-name(.)='${opts.localName}' and @ID='${opts.id}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}

const DIGESTS: readonly string[] = [ALG.sha256, 'http://www.w3.org/2001/04/xmlenc#sha512'];

/**
 * Verifies the enveloped signature of a message's root element against one of `certificates`, and
 * returns the element the signature covers, parsed again from the bytes the signature checked:
 * callers read that element and nothing else of the original document.
 * SAML Core §5.4.2: "…the URI attribute MUST contain a reference to the ID of the element signed".
 */
export function verifyRootSignature(xml: string, doc: Document, certificates: readonly string[]): Document {
  const root = rootOf(doc);
  const sigs = childrenNamed(root, NS.dsig, 'Signature');
  if (sigs.length !== 1) throw new SamlError('signature_missing', sigs.length ? 'The message has more than one signature.' : 'The message is not signed.', 403);
  const id = root.getAttribute('ID');
  if (!id) throw new SamlError('signature_invalid', 'The signed element has no ID.', 403);
  // A signature anywhere else in the document (in an Extensions element, say) is not ours to trust.
  const all = doc.getElementsByTagNameNS(NS.dsig, 'Signature');
  if (all.length !== 1) throw new SamlError('signature_wrapping', 'The message carries signatures on other elements.', 403);
  for (const cert of certificates) {
    const sig = new SignedXml({ publicCert: certificatePem(cert) });
    sig.loadSignature(sigs[0]! as unknown as Parameters<SignedXml['loadSignature']>[0]);
    const refs = sig.getReferences();
    if (refs.length !== 1 || refs[0]!.uri !== `#${id}`) throw new SamlError('signature_wrapping', 'The signature does not reference the message itself.', 403);
    const algo = sig.signatureAlgorithm;
    if (algo !== ALG.rsaSha256) throw new SamlError('signature_algorithm', 'Only RSA-SHA256 signatures are accepted.', 403);
    // SHA-1 digests are refused too: a signature is no stronger than the digest it signs.
    if (!DIGESTS.includes(refs[0]!.digestAlgorithm ?? '')) throw new SamlError('signature_algorithm', 'Only SHA-256 or SHA-512 digests are accepted.', 403);
    let ok = false;
    try {
      ok = sig.checkSignature(xml);
    } catch {
      ok = false;
    }
    if (!ok) continue;
    const signed = sig.getSignedReferences();
    if (signed.length !== 1) throw new SamlError('signature_wrapping', 'The signature covers more than one element.', 403);
    const covered = parseUntrustedXml(signed[0]!);
    const el = rootOf(covered);
    if (el.getAttribute('ID') !== id || el.localName !== root.localName || el.namespaceURI !== root.namespaceURI) {
      throw new SamlError('signature_wrapping', 'The signature covers another element than the message.', 403);
    }
    return covered;
  }
  throw new SamlError('signature_invalid', 'The signature does not verify against the registered certificates.', 403);
}
