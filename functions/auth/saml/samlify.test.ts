import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { Browser } from '../testing/browser.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, postedForm, spKeyPair } from '../testing/saml.js';
// samlify with its schema validator set: every message it reads is checked against the SAML 2.0 XSDs.
import * as samlify from '../testing/samlify-peer.mjs';

const SP_ID = 'https://samlify.example/sp';
const ACS = 'https://samlify.example/acs';
const SLO = 'https://samlify.example/slo';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

describe('SAML Web SSO with samlify as the SP, schema-validated (SAML Profiles §4.1, §4.4)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let idp: ReturnType<typeof samlify.IdentityProvider>;
  const keys = spKeyPair('samlify SP');
  const sp = samlify.ServiceProvider({
    entityID: SP_ID,
    authnRequestsSigned: true,
    wantAssertionsSigned: true,
    wantMessageSigned: true,
    privateKey: keys.privatePem,
    signingCert: keys.certPem,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    assertionConsumerService: [{ Binding: POST, Location: ACS }],
    singleLogoutService: [{ Binding: REDIRECT, Location: SLO }],
    nameIDFormat: [EMAIL],
  });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const tenant = await makeTenant(tdb.database.db, 'globex');
    await makeUser(tdb.database.db, tenant, { username: 'hank', password: 'hammock district', email: 'hank@globex.example' });
    const token = await adminToken(h);
    // Registered from the SP's own metadata, as an admin would import it.
    const created = await adminCall(h, token, 'POST', '/tenants/globex/saml/service-providers?name=Samlify%20app', sp.getMetadata(), 'application/samlmetadata+xml');
    assert.equal(created.status, 201, await created.clone().text());
    const reg = (await created.json()) as Record<string, unknown>;
    assert.equal(reg.entity_id, SP_ID);
    assert.equal(reg.name_id_format, EMAIL);
    assert.equal(reg.want_authn_requests_signed, true);
    assert.equal(reg.slo_url, SLO);
    idp = samlify.IdentityProvider({ metadata: await (await h.fetch(`/auth/globex/saml/metadata?sp=${encodeURIComponent(SP_ID)}`)).text(), wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function signIn(browser: Browser, url: string) {
    let html = await (await browser.fetch(url)).text();
    if (html.includes('name="password"')) html = await (await browser.submit(html, { username: 'hank', password: 'hammock district' })).text();
    return postedForm(html);
  }

  it('completes SP-initiated sign-in over HTTP-Redirect with a signed request', async () => {
    const { context } = sp.createLoginRequest(idp, 'redirect');
    const posted = await signIn(new Browser(), context);
    assert.equal(posted.action, ACS);
    const { extract } = await sp.parseLoginResponse(idp, 'post', { body: posted.fields });
    assert.equal(extract.nameID, 'hank@globex.example');
    assert.equal(extract.issuer, `${h.baseUrl}/auth/globex/saml/metadata`);
    assert.deepEqual(extract.audience, SP_ID);
  });

  it('completes IdP-initiated sign-in with RelayState', async () => {
    const posted = await signIn(new Browser(), `${h.baseUrl}/auth/globex/saml/idp-initiated?sp=${encodeURIComponent(SP_ID)}&RelayState=home`);
    assert.equal(posted.fields.RelayState, 'home');
    const { extract } = await sp.parseLoginResponse(idp, 'post', { body: posted.fields });
    assert.equal(extract.nameID, 'hank@globex.example');
  });

  it('logs out over HTTP-Redirect and returns a signed LogoutResponse samlify verifies', async () => {
    const browser = new Browser();
    const posted = await signIn(browser, sp.createLoginRequest(idp, 'redirect').context);
    const { extract } = await sp.parseLoginResponse(idp, 'post', { body: posted.fields });
    const { context } = sp.createLogoutRequest(idp, 'redirect', { logoutNameID: extract.nameID, sessionIndex: extract.sessionIndex.sessionIndex });
    const res = await browser.fetch(context);
    assert.equal(res.status, 303, await res.clone().text());
    const location = new URL(res.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, SLO);
    const octetString = location.search.slice(1).split('&').filter((p) => !p.startsWith('Signature=')).join('&');
    const parsed = await sp.parseLogoutResponse(idp, 'redirect', { query: Object.fromEntries(location.searchParams), octetString });
    assert.equal(parsed.extract.response.inResponseTo.length > 0, true);
    assert.match(await (await browser.fetch(sp.createLoginRequest(idp, 'redirect').context)).text(), /name="password"/);
  });
});
