import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SAML } from '@node-saml/node-saml';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { Browser } from '../testing/browser.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, postedForm, spKeyPair, xmlsecDecrypt, xmlsecVerify } from '../testing/saml.js';
import * as samlify from '../testing/samlify-peer.mjs';

const NODE_SP = 'https://enc.example/node-saml';
const NODE_ACS = 'https://enc.example/node-saml/acs';
const SAMLIFY_SP = 'https://enc.example/samlify';
const SAMLIFY_ACS = 'https://enc.example/samlify/acs';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

describe('SAML encrypted assertions (AES-256-GCM, RSA-OAEP) to node-saml, samlify and xmlsec1', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let idpCert: string;
  let samlifyIdp: ReturnType<typeof samlify.IdentityProvider>;
  const signing = spKeyPair('encrypting SP, signing');
  const encryption = spKeyPair('encrypting SP, encryption');
  const stranger = spKeyPair('someone else');

  const nodeSaml = (decryptionPvk: string) =>
    new SAML({
      entryPoint: `${h.baseUrl}/auth/initech/saml/sso`,
      issuer: NODE_SP,
      callbackUrl: NODE_ACS,
      idpCert,
      audience: NODE_SP,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      identifierFormat: PERSISTENT,
      decryptionPvk,
    });
  const samlifySp = (encPrivateKey: string) =>
    samlify.ServiceProvider({
      entityID: SAMLIFY_SP,
      wantAssertionsSigned: true,
      wantMessageSigned: true,
      isAssertionEncrypted: true,
      encPrivateKey,
      encryptCert: encryption.certPem,
      assertionConsumerService: [{ Binding: POST, Location: SAMLIFY_ACS }],
      nameIDFormat: [EMAIL],
    });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const tenant = await makeTenant(tdb.database.db, 'initech');
    await makeUser(tdb.database.db, tenant, { username: 'peter', password: 'tps reports cover', email: 'peter@initech.example' });
    const token = await adminToken(h);
    const byHand = await adminCall(h, token, 'POST', '/tenants/initech/saml/service-providers', {
      entity_id: NODE_SP,
      acs: [{ url: NODE_ACS, index: 0 }],
      certificates: [signing.certPem],
      encryption_certificates: [encryption.certPem],
      encrypt_assertion: true,
      name_id_format: PERSISTENT,
      attributes: [{ name: 'email', source: 'email' }],
    });
    assert.equal(byHand.status, 201, await byHand.clone().text());
    // samlify publishes its encryption certificate in its metadata: the import asks for encryption.
    const imported = await adminCall(h, token, 'POST', '/tenants/initech/saml/service-providers', samlifySp(encryption.privatePem).getMetadata(), 'application/samlmetadata+xml');
    assert.equal(imported.status, 201, await imported.clone().text());
    const reg = (await imported.json()) as { encrypt_assertion: boolean; encryption_certificates: string[] };
    assert.equal(reg.encrypt_assertion, true);
    assert.deepEqual(reg.encryption_certificates, [encryption.certDer]);
    const metadata = await (await h.fetch('/auth/initech/saml/metadata')).text();
    idpCert = /<ds:X509Certificate>([^<]+)</.exec(metadata)![1]!;
    samlifyIdp = samlify.IdentityProvider({ metadata, isAssertionEncrypted: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function signIn(url: string): Promise<Record<string, string>> {
    const browser = new Browser();
    let html = await (await browser.fetch(url)).text();
    if (html.includes('name="password"')) html = await (await browser.submit(html, { username: 'peter', password: 'tps reports cover' })).text();
    return postedForm(html).fields;
  }
  const idpInitiated = (sp: string) => signIn(`${h.baseUrl}/auth/initech/saml/idp-initiated?sp=${encodeURIComponent(sp)}`);
  const decoded = (fields: Record<string, string>) => Buffer.from(fields.SAMLResponse!, 'base64').toString('utf8');

  it('sends an EncryptedAssertion (AES-256-GCM content, RSA-OAEP key) that carries nothing in the clear', async () => {
    const xml = decoded(await idpInitiated(NODE_SP));
    assert.match(xml, /<saml:EncryptedAssertion/);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2009\/xmlenc11#aes256-gcm"/);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p"/);
    assert.doesNotMatch(xml, /<saml:Assertion|NameID|peter/);
  });

  it('node-saml decrypts with its key and accepts the signed Response and the signed Assertion inside', async () => {
    const fields = await idpInitiated(NODE_SP);
    const { profile } = await nodeSaml(encryption.privatePem).validatePostResponseAsync({ SAMLResponse: fields.SAMLResponse! });
    assert.equal(profile!.nameIDFormat, PERSISTENT);
    assert.equal(profile!.email, 'peter@initech.example');
    await assert.rejects(nodeSaml(stranger.privatePem).validatePostResponseAsync({ SAMLResponse: fields.SAMLResponse! }));
  });

  it('samlify (schema-validated) decrypts with its key and accepts; another key is refused', async () => {
    const fields = await idpInitiated(SAMLIFY_SP);
    const { extract } = await samlifySp(encryption.privatePem).parseLoginResponse(samlifyIdp, 'post', { body: fields });
    assert.equal(extract.nameID, 'peter@initech.example');
    assert.equal(extract.audience, SAMLIFY_SP);
    await assert.rejects(samlifySp(stranger.privatePem).parseLoginResponse(samlifyIdp, 'post', { body: fields }));
  });

  it('xmlsec1 decrypts independently, and verifies the Response and the decrypted Assertion signatures', async () => {
    const xml = decoded(await idpInitiated(NODE_SP));
    const idpPem = `-----BEGIN CERTIFICATE-----\n${idpCert.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    // Sign then encrypt: the Response signature covers the EncryptedAssertion as sent.
    const outer = await xmlsecVerify(xml, idpPem, 'urn:oasis:names:tc:SAML:2.0:protocol:Response');
    assert.equal(outer.ok, true, outer.output);
    const decrypted = await xmlsecDecrypt(xml, encryption.privatePem);
    assert.equal(decrypted.ok, true, decrypted.output);
    const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(decrypted.output)?.[0];
    assert.ok(assertion, decrypted.output.slice(0, 400));
    assert.match(assertion, /<saml:Audience>https:\/\/enc\.example\/node-saml<\/saml:Audience>/);
    const inner = await xmlsecVerify(assertion, idpPem, 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion');
    assert.equal(inner.ok, true, inner.output);
    assert.equal((await xmlsecDecrypt(xml, stranger.privatePem)).ok, false);
  });

  it('a flipped ciphertext byte fails GCM authentication at the SP', async () => {
    const xml = decoded(await idpInitiated(NODE_SP));
    const values = [...xml.matchAll(/<xenc:CipherValue>([^<]+)<\/xenc:CipherValue>/g)];
    const content = values.at(-1)![1]!;
    const bytes = Buffer.from(content, 'base64');
    bytes[20] = bytes[20]! ^ 1;
    const tampered = xml.replace(content, bytes.toString('base64'));
    assert.equal((await xmlsecDecrypt(tampered, encryption.privatePem)).ok, false);
  });

  it('refuses encrypt_assertion without an encryption certificate, and one that is no certificate', async () => {
    const token = await adminToken(h);
    const base = { entity_id: 'https://enc.example/bad', acs: [{ url: 'https://enc.example/bad/acs', index: 0 }] };
    for (const body of [{ ...base, encrypt_assertion: true }, { ...base, encryption_certificates: ['nope'] }]) {
      const res = await adminCall(h, token, 'POST', '/tenants/initech/saml/service-providers', body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(((await res.json()) as { code: string }).code, 'invalid_sp_registration');
    }
  });
});
