import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { Browser } from '../testing/browser.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, javaDecrypt, postedForm, spKeyPair, xmlsecVerify } from '../testing/saml.js';

const SP = 'https://oaep256.example/sp';
const ACS = 'https://oaep256.example/acs';
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XENC11 = 'http://www.w3.org/2009/xmlenc11#';

/** SP metadata with an encryption key and the EncryptionMethods it lists (SAML Metadata §2.4.1.1). */
function spMetadata(entityId: string, acs: string, encryptionCert: string, methods: string): string {
  return (
    `<md:EntityDescriptor xmlns:md="${MD}" xmlns:ds="${DS}" xmlns:xenc11="${XENC11}" entityID="${entityId}">` +
    `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${encryptionCert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>${methods}</md:KeyDescriptor>` +
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${acs}" index="0"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}
const method = (alg: string, inner = '') => `<md:EncryptionMethod Algorithm="${alg}">${inner}</md:EncryptionMethod>`;
const GCM = method('http://www.w3.org/2009/xmlenc11#aes256-gcm');
const OAEP11_SHA256 = method(`${XENC11}rsa-oaep`, `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF Algorithm="${XENC11}mgf1sha256"/>`);
const MGF1P = method('http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p');

describe('SAML encrypted assertions with RSA-OAEP SHA-256 (xmlenc11#rsa-oaep), chosen from SP metadata', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  let idpPem: string;
  const encryption = spKeyPair('OAEP SHA-256 SP, encryption');
  const stranger = spKeyPair('someone else');
  const importSp = (xml: string) => adminCall(h, token, 'POST', '/tenants/umbrella/saml/service-providers', xml, 'application/samlmetadata+xml');

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const tenant = await makeTenant(tdb.database.db, 'umbrella');
    await makeUser(tdb.database.db, tenant, { username: 'jill', password: 'raccoon city hall', email: 'jill@umbrella.example' });
    token = await adminToken(h);
    const metadata = await (await h.fetch('/auth/umbrella/saml/metadata')).text();
    const cert = /<ds:X509Certificate>([^<]+)</.exec(metadata)![1]!;
    idpPem = `-----BEGIN CERTIFICATE-----\n${cert.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function idpInitiated(sp: string): Promise<string> {
    const browser = new Browser();
    let html = await (await browser.fetch(`${h.baseUrl}/auth/umbrella/saml/idp-initiated?sp=${encodeURIComponent(sp)}`)).text();
    if (html.includes('name="password"')) html = await (await browser.submit(html, { username: 'jill', password: 'raccoon city hall' })).text();
    return Buffer.from(postedForm(html).fields.SAMLResponse!, 'base64').toString('utf8');
  }

  it('takes xmlenc11#rsa-oaep with SHA-256 from the metadata EncryptionMethods, over rsa-oaep-mgf1p listed beside it', async () => {
    const res = await importSp(spMetadata(SP, ACS, encryption.certDer, GCM + MGF1P + OAEP11_SHA256));
    assert.equal(res.status, 201, await res.clone().text());
    const reg = (await res.json()) as { encrypt_assertion: boolean; key_transport: string };
    assert.equal(reg.encrypt_assertion, true);
    assert.equal(reg.key_transport, 'rsa-oaep-sha256');
  });

  it('sends the content key under xmlenc11#rsa-oaep with a SHA-256 DigestMethod and MGF1-SHA-256', async () => {
    const xml = await idpInitiated(SP);
    const method = /<e:EncryptionMethod Algorithm="([^"]+)">([\s\S]*?)<\/e:EncryptionMethod>/.exec(xml);
    assert.ok(method, xml.slice(0, 600));
    assert.equal(method[1], `${XENC11}rsa-oaep`);
    assert.match(method[2]!, /<MGF xmlns="http:\/\/www\.w3\.org\/2009\/xmlenc11#" Algorithm="http:\/\/www\.w3\.org\/2009\/xmlenc11#mgf1sha256"/);
    assert.match(method[2]!, /<DigestMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha256"/);
    assert.doesNotMatch(xml, /<saml:Assertion|jill/);
  });

  it('an independent reader (Java JCE) decrypts it under the stated parameters; the Assertion inside verifies with xmlsec1', async () => {
    const xml = await idpInitiated(SP);
    const outer = await xmlsecVerify(xml, idpPem, 'urn:oasis:names:tc:SAML:2.0:protocol:Response');
    assert.equal(outer.ok, true, outer.output);
    const decrypted = await javaDecrypt(xml, encryption.privatePem);
    assert.equal(decrypted.ok, true, decrypted.output);
    assert.equal(decrypted.used, `key transport ${XENC11}rsa-oaep digest SHA-256 mgf1 SHA-256`);
    const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(decrypted.output)?.[0];
    assert.ok(assertion, decrypted.output.slice(0, 400));
    assert.match(assertion, /<saml:Audience>https:\/\/oaep256\.example\/sp<\/saml:Audience>/);
    const inner = await xmlsecVerify(assertion, idpPem, 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion');
    assert.equal(inner.ok, true, inner.output);
  });

  it('the key really is SHA-256 OAEP: read with SHA-1 digest or MGF it does not decrypt, nor with another key', async () => {
    const xml = await idpInitiated(SP);
    const noMgf = xml.replace(/<MGF [^>]*\/>/, '');
    assert.equal((await javaDecrypt(noMgf, encryption.privatePem)).ok, false);
    const sha1Digest = xml.replace('<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"', `<DigestMethod Algorithm="${DS}sha1"`);
    assert.notEqual(sha1Digest, xml);
    assert.equal((await javaDecrypt(sha1Digest, encryption.privatePem)).ok, false);
    assert.equal((await javaDecrypt(xml, stranger.privatePem)).ok, false);
  });

  it('keeps rsa-oaep-mgf1p for SPs that list only it, or no key transport; refuses an SP that lists none it could read', async () => {
    const cases: [string, string, number, string | undefined][] = [
      ['https://oaep256.example/mgf1p', GCM + MGF1P, 201, 'rsa-oaep-mgf1p'],
      ['https://oaep256.example/unlisted', '', 201, 'rsa-oaep-mgf1p'],
      ['https://oaep256.example/rsa15', method('http://www.w3.org/2001/04/xmlenc#rsa-1_5'), 422, undefined],
      ['https://oaep256.example/oaep-sha1', method(`${XENC11}rsa-oaep`, `<ds:DigestMethod Algorithm="${DS}sha1"/>`), 422, undefined],
      ['https://oaep256.example/cbc', method('http://www.w3.org/2001/04/xmlenc#aes256-cbc') + MGF1P, 422, undefined],
    ];
    for (const [entityId, methods, status, transport] of cases) {
      const res = await importSp(spMetadata(entityId, `${entityId}/acs`, encryption.certDer, methods));
      const body = (await res.json()) as { key_transport?: string; code?: string };
      assert.equal(res.status, status, `${entityId}: ${JSON.stringify(body)}`);
      if (transport) assert.equal(body.key_transport, transport, entityId);
      else assert.equal(body.code, 'invalid_sp_metadata', entityId);
    }
    const mgf1p = await idpInitiated('https://oaep256.example/mgf1p');
    assert.match(mgf1p, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p"/);
    const decrypted = await javaDecrypt(mgf1p, encryption.privatePem);
    assert.equal(decrypted.used, 'key transport http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p digest SHA-1 mgf1 SHA-1', decrypted.output);
  });

  it('takes key_transport by hand in JSON, and refuses a value it does not know', async () => {
    const base = { acs: [{ url: 'https://oaep256.example/json/acs', index: 0 }], encryption_certificates: [encryption.certPem], encrypt_assertion: true };
    const ok = await adminCall(h, token, 'POST', '/tenants/umbrella/saml/service-providers', { ...base, entity_id: 'https://oaep256.example/json', key_transport: 'rsa-oaep-sha256' });
    assert.equal(ok.status, 201, await ok.clone().text());
    assert.equal(((await ok.json()) as { key_transport: string }).key_transport, 'rsa-oaep-sha256');
    const bad = await adminCall(h, token, 'POST', '/tenants/umbrella/saml/service-providers', { ...base, entity_id: 'https://oaep256.example/json2', key_transport: 'rsa-1_5' });
    assert.equal(bad.status, 422);
    assert.equal(((await bad.json()) as { code: string }).code, 'invalid_sp_registration');
  });
});
