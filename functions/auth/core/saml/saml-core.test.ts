import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { decodePostMessage, decodeRedirectMessage, rawQuery } from './bindings.js';
import { readAuthnRequest } from './authn-request.js';
import { certificatePem, selfSignedCertificate } from './certificate.js';
import { idpMetadataXml } from './idp-metadata.js';
import { buildSuccessResponse } from './response.js';
import { SamlError } from './saml-error.js';
import { verifyRootSignature } from './signing.js';
import { parseUntrustedXml } from './xml.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SamlError, String(err));
    return err.code;
  }
  return 'no error';
};

describe('SAML core (no database)', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = selfSignedCertificate(privateKey, 'unit', new Date(Date.now() - 1000), new Date(Date.now() + 86_400_000));

  it('makes a self-signed X.509 v3 certificate that node:crypto parses and verifies', () => {
    const x = new X509Certificate(certificatePem(cert));
    assert.equal(x.subject, 'CN=unit');
    assert.equal(x.verify(x.publicKey), true);
    assert.equal(x.checkPrivateKey(privateKey), true);
  });

  it('refuses DTDs, entity declarations, malformed XML, too deep and too many elements', () => {
    assert.equal(code(() => parseUntrustedXml('<!DOCTYPE a><a/>')), 'dtd_refused');
    assert.equal(code(() => parseUntrustedXml('<a><!ENTITY x "y"></a>')), 'dtd_refused');
    assert.equal(code(() => parseUntrustedXml('<a><b></a>')), 'malformed_xml');
    assert.equal(code(() => parseUntrustedXml('not xml')), 'malformed_xml');
    assert.equal(code(() => parseUntrustedXml('<a>' + '<b>'.repeat(30) + '</b>'.repeat(30) + '</a>')), 'message_too_deep');
    assert.equal(code(() => parseUntrustedXml('<a>' + '<b/>'.repeat(3000) + '</a>')), 'message_too_large');
    assert.equal(code(() => parseUntrustedXml('<a/>')), 'no error');
  });

  it('decodes the bindings within bounds', () => {
    const xml = '<a/>';
    assert.equal(decodeRedirectMessage(encodeURIComponent(deflateRawSync(xml).toString('base64'))), xml);
    assert.equal(decodePostMessage(Buffer.from(xml).toString('base64')), xml);
    assert.equal(code(() => decodeRedirectMessage(encodeURIComponent(deflateRawSync(' '.repeat(1_000_000)).toString('base64')))), 'message_too_large');
    assert.equal(code(() => decodeRedirectMessage('%%%')), 'invalid_binding');
    assert.equal(code(() => decodePostMessage('!!!')), 'invalid_binding');
    assert.equal(code(() => rawQuery('/x?a=1&a=2')), 'invalid_binding');
  });

  it('reads an AuthnRequest and refuses a bad version, ID, instant or NameID policy', () => {
    const req = (attrs: string, inner = '') =>
      parseUntrustedXml(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ${attrs}><saml:Issuer>sp</saml:Issuer>${inner}</samlp:AuthnRequest>`);
    const ok = `ID="_a" Version="2.0" IssueInstant="${new Date().toISOString()}"`;
    const r = readAuthnRequest(req(`${ok} ForceAuthn="true" AssertionConsumerServiceIndex="3"`));
    assert.deepEqual([r.id, r.issuer, r.forceAuthn, r.isPassive, r.acsIndex], ['_a', 'sp', true, false, 3]);
    assert.equal(code(() => readAuthnRequest(req(ok.replace('2.0', '1.1')))), 'version_mismatch');
    assert.equal(code(() => readAuthnRequest(req(ok.replace('_a', '1bad')))), 'invalid_request');
    assert.equal(code(() => readAuthnRequest(req(ok.replace(/IssueInstant="[^"]+"/, 'IssueInstant="2001-01-01T00:00:00Z"')))), 'request_expired');
    assert.equal(code(() => readAuthnRequest(req(ok, '<samlp:NameIDPolicy Format="urn:custom"/>'))), 'invalid_name_id_policy');
    assert.equal(code(() => readAuthnRequest(req(`${ok} AssertionConsumerServiceURL="https://a" AssertionConsumerServiceIndex="1"`))), 'invalid_request');
    assert.equal(code(() => readAuthnRequest(req(ok, '<saml:Issuer>second</saml:Issuer>'))), 'duplicate_element');
  });

  it('signs a Response that verifies, and whose verification returns exactly the signed element', async () => {
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const xml = await buildSuccessResponse(
      { idpEntityId: 'idp', spEntityId: 'sp', acsUrl: 'https://sp/acs', inResponseTo: '_r', nameId: 'n&<', nameIdFormat: 'f', sessionIndex: '_s', authnInstant: new Date(), sessionNotOnOrAfter: new Date(Date.now() + 86_400_000), authnContextClass: 'c', attributes: [{ name: 'a"b', values: ['x', 'y'] }] },
      { privatePem: pem, certificate: cert, signResponse: true, signAssertion: false },
    );
    const covered = verifyRootSignature(xml, parseUntrustedXml(xml), [cert]);
    assert.equal(covered.documentElement!.localName, 'Response');
    assert.match(xml, /n&amp;&lt;/);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    // Valid for a day: the refusal below is the signature's, whatever the clock does meanwhile.
    const otherCert = selfSignedCertificate(other, 'other', new Date(Date.now() - 1000), new Date(Date.now() + 86_400_000));
    assert.equal(code(() => verifyRootSignature(xml, parseUntrustedXml(xml), [otherCert])), 'signature_invalid');
  });

  it('publishes the certificates and both bindings in metadata', () => {
    const xml = idpMetadataXml('https://b/auth/t', [cert, 'OLD'], true);
    assert.match(xml, /WantAuthnRequestsSigned="true"/);
    assert.equal([...xml.matchAll(/<ds:X509Certificate>/g)].length, 2);
    assert.equal(parseUntrustedXml(xml).documentElement!.getAttribute('entityID'), 'https://b/auth/t/saml/metadata');
  });
});

describe('self-signed certificates (RFC 5280 §4.1.2.2)', () => {
  it('gives every certificate a positive serial of 16 octets in minimal DER, which OpenSSL reads', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (let i = 0; i < 64; i++) {
      const der = Buffer.from(selfSignedCertificate(privateKey, 'serials', new Date(Date.now() - 60_000), new Date(Date.now() + 3_600_000)), 'base64');
      // Certificate → TBSCertificate → [0] version, then the serial INTEGER: tag, length, octets.
      const at = der.indexOf(Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02])) + 5;
      assert.equal(der[at], 0x02, 'the serial is an INTEGER');
      assert.equal(der[at + 1], 16, 'of 16 octets');
      const first = der[at + 2]!;
      assert.ok(first >= 0x40 && first < 0x80, `first octet 0x${first.toString(16)}: positive, and no zero padding`);
      // A leading 0x00 before an octet under 0x80 is refused by OpenSSL as illegal padding.
      assert.doesNotThrow(() => new X509Certificate(certificatePem(der.toString('base64'))));
    }
  });
});
