// Reads an SP's metadata (SAML Metadata §2.3.2, §2.4.4) into a registration: entity id, POST ACS
// endpoints with their index, the SLO endpoint, signing and encryption certificates, the key
// transport its encryption methods allow, NameID format, signing and encryption wishes.
import type { Element } from '@xmldom/xmldom';
import { BINDING, NAMEID_FORMATS, NS } from './constants.js';
import { keyTransportFor, XMLENC } from './encryption.js';
import { SamlError } from './saml-error.js';
import type { SpRegistrationInput } from './sp-registration.js';
import { childrenNamed, parseUntrustedXml, textOf, rootOf } from './xml.js';

export function registrationFromMetadata(xml: string): SpRegistrationInput {
  const doc = parseUntrustedXml(xml, { maxBytes: 256 * 1024, maxDepth: 24, maxElements: 5000 });
  const root = rootOf(doc);
  if (root.namespaceURI !== NS.metadata || root.localName !== 'EntityDescriptor') throw new SamlError('invalid_metadata', 'The metadata must be one md:EntityDescriptor.');
  const entityId = root.getAttribute('entityID');
  if (!entityId) throw new SamlError('invalid_metadata', 'The EntityDescriptor has no entityID.');
  const [sp, more] = childrenNamed(root, NS.metadata, 'SPSSODescriptor');
  if (!sp || more) throw new SamlError('invalid_metadata', 'The metadata must have one SPSSODescriptor.');

  const acs = childrenNamed(sp, NS.metadata, 'AssertionConsumerService')
    .filter((e) => e.getAttribute('Binding') === BINDING.post)
    .map((e, i) => ({ url: e.getAttribute('Location') ?? '', index: Number(e.getAttribute('index') ?? i), is_default: e.getAttribute('isDefault') === 'true' }));
  if (!acs.length) throw new SamlError('invalid_metadata', 'The SP has no HTTP-POST AssertionConsumerService.');

  const slo = childrenNamed(sp, NS.metadata, 'SingleLogoutService').find((e) => e.getAttribute('Binding') === BINDING.redirect || e.getAttribute('Binding') === BINDING.post);
  const keys = childrenNamed(sp, NS.metadata, 'KeyDescriptor');
  // A KeyDescriptor without `use` serves both purposes (SAML Metadata §2.4.1.1).
  const keysFor = (use: 'signing' | 'encryption') => keys.filter((k) => (k.getAttribute('use') || use) === use);
  const certificates = keysFor('signing').flatMap(x509Certificates);
  const encryptionCertificates = keysFor('encryption').flatMap(x509Certificates);
  const keyTransport = keyTransportFor(keysFor('encryption').flatMap(encryptionMethods));
  const wantsEncryption = keys.some((k) => k.getAttribute('use') === 'encryption');
  if (wantsEncryption && !keyTransport) {
    throw new SamlError('invalid_metadata', 'The SP\'s EncryptionMethods name no key transport or content cipher this IdP sends (RSA-OAEP with SHA-1 or SHA-256, AES-256-GCM).');
  }
  const format = childrenNamed(sp, NS.metadata, 'NameIDFormat').map((e) => textOf(e) ?? '').find((f) => NAMEID_FORMATS.includes(f));

  return {
    entity_id: entityId,
    acs,
    ...(slo ? { slo_url: slo.getAttribute('Location') ?? '', slo_binding: slo.getAttribute('Binding') === BINDING.post ? ('post' as const) : ('redirect' as const) } : {}),
    certificates,
    encryption_certificates: encryptionCertificates,
    // An SP that publishes a key for encryption asks for encrypted assertions.
    encrypt_assertion: wantsEncryption,
    ...(keyTransport ? { key_transport: keyTransport } : {}),
    ...(format ? { name_id_format: format } : {}),
    want_authn_requests_signed: sp.getAttribute('AuthnRequestsSigned') === 'true',
    ...(sp.getAttribute('WantAssertionsSigned') === 'true' ? { sign_assertion: true } : {}),
  };
}

const x509Certificates = (keyDescriptor: Element): string[] =>
  [...(keyDescriptor.getElementsByTagNameNS(NS.dsig, 'X509Certificate') as unknown as Iterable<Element>)].map((c) => textOf(c) ?? '');

/** The `md:EncryptionMethod`s of a KeyDescriptor, with the digest and MGF an RSA-OAEP one names. */
const encryptionMethods = (keyDescriptor: Element) =>
  childrenNamed(keyDescriptor, NS.metadata, 'EncryptionMethod').map((m) => ({
    algorithm: m.getAttribute('Algorithm') ?? '',
    digest: childrenNamed(m, NS.dsig, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? undefined,
    mgf: childrenNamed(m, XMLENC.xenc11, 'MGF')[0]?.getAttribute('Algorithm') ?? undefined,
  }));
