import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { SAML } from '@node-saml/node-saml';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { addMembers, insertGroup } from '../core/groups.js';
import { Browser } from '../testing/browser.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, postedForm, spKeyPair, xmlsecVerify } from '../testing/saml.js';

const ACS = 'https://sp.example/saml/acs';
const SP_ID = 'https://sp.example/node-saml';
const SP2_ID = 'https://sp2.example/node-saml';
const SP2_ACS = 'https://sp2.example/acs';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

describe('SAML Web SSO with @node-saml/node-saml as the SP (SAML Profiles §4.1)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  let idpCert: string;
  const sp = spKeyPair('node-saml SP');

  const nodeSaml = (over: Record<string, unknown> = {}) =>
    new SAML({
      entryPoint: `${h.baseUrl}/auth/acme/saml/sso`,
      issuer: SP_ID,
      callbackUrl: ACS,
      idpCert,
      audience: SP_ID,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      signatureAlgorithm: 'sha256',
      identifierFormat: PERSISTENT,
      validateInResponseTo: 'always' as never,
      privateKey: sp.privatePem,
      logoutUrl: `${h.baseUrl}/auth/acme/saml/slo`,
      logoutCallbackUrl: 'https://sp.example/saml/slo',
      ...over,
    });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    token = await adminToken(h);
    const tenant = await makeTenant(tdb.database.db, 'acme');
    const alice = await makeUser(tdb.database.db, tenant, { username: 'alice', password: 'correct horse battery', email: 'alice@acme.example', givenName: 'Alice' });
    const eng = (await insertGroup(tdb.database.db, tenant.id, { displayName: 'eng' }))!;
    const staff = (await insertGroup(tdb.database.db, tenant.id, { displayName: 'staff' }))!;
    await addMembers(tdb.database.db, tenant.id, eng.id, [{ value: alice.id, type: 'User' }]);
    await addMembers(tdb.database.db, tenant.id, staff.id, [{ value: eng.id, type: 'Group' }]);
    const created = await adminCall(h, token, 'POST', '/tenants/acme/saml/service-providers', {
      entity_id: SP_ID,
      name: 'Node SAML app',
      acs: [{ url: ACS, index: 0, is_default: true }],
      slo_url: 'https://sp.example/saml/slo',
      certificates: [sp.certPem],
      name_id_format: PERSISTENT,
      want_authn_requests_signed: true,
      attributes: [
        { name: 'email', source: 'email', friendly_name: 'mail' },
        { name: 'groups', source: 'groups' },
        { name: 'givenName', source: 'given_name' },
      ],
    });
    assert.equal(created.status, 201, await created.clone().text());
    const second = await adminCall(h, token, 'POST', '/tenants/acme/saml/service-providers', {
      entity_id: SP2_ID,
      acs: [{ url: SP2_ACS, index: 0 }],
      slo_url: 'https://sp2.example/slo',
      certificates: [sp.certPem],
      name_id_format: PERSISTENT,
    });
    assert.equal(second.status, 201);
    const metadata = await (await h.fetch('/auth/acme/saml/metadata')).text();
    idpCert = /<ds:X509Certificate>([^<]+)</.exec(metadata)![1]!;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function signIn(browser: Browser, url: string): Promise<{ action: string; fields: Record<string, string> }> {
    let res = await browser.fetch(url);
    let html = await res.text();
    if (html.includes('name="password"')) {
      res = await browser.submit(html, { username: 'alice', password: 'correct horse battery' });
      html = await res.text();
    }
    assert.equal(res.status, 200, html.slice(0, 400));
    return postedForm(html);
  }

  it('publishes metadata with the signing certificate, SSO and SLO endpoints and NameID formats', async () => {
    const res = await h.fetch('/auth/acme/saml/metadata');
    assert.equal(res.headers.get('content-type'), 'application/samlmetadata+xml');
    const xml = await res.text();
    assert.match(xml, new RegExp(`entityID="${h.baseUrl}/auth/acme/saml/metadata"`));
    assert.match(xml, /SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"/);
    assert.match(xml, /SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"/);
    assert.match(xml, /SingleLogoutService/);
    assert.match(xml, /nameid-format:persistent/);
    assert.equal((await h.fetch('/auth/nobody/saml/metadata')).status, 404);
  });

  it('completes SP-initiated sign-in over HTTP-Redirect with a signed request, and the SP accepts the signed response', async () => {
    const saml = nodeSaml();
    const browser = new Browser();
    const url = await saml.getAuthorizeUrlAsync('relay-1', undefined, {});
    assert.match(url, /Signature=/);
    const posted = await signIn(browser, url);
    assert.equal(posted.action, ACS);
    assert.equal(posted.fields.RelayState, 'relay-1');
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: posted.fields.SAMLResponse!, RelayState: posted.fields.RelayState! });
    assert.ok(profile);
    assert.equal(profile.nameIDFormat, PERSISTENT);
    assert.equal(profile.issuer, `${h.baseUrl}/auth/acme/saml/metadata`);
    assert.equal(profile.email, 'alice@acme.example');
    assert.deepEqual([...(profile.groups as string[])].sort(), ['eng', 'staff']);
    assert.equal(profile.givenName, 'Alice');

    // The session signs the next request in without a password, under the same pairwise NameID.
    const again = await signIn(browser, await saml.getAuthorizeUrlAsync('relay-2', undefined, {}));
    const second = await saml.validatePostResponseAsync({ SAMLResponse: again.fields.SAMLResponse!, RelayState: 'relay-2' });
    assert.equal(second.profile!.nameID, profile.nameID);
  });

  it('completes SP-initiated sign-in over HTTP-POST with an enveloped request signature (SHA-256 digests only)', async () => {
    // node-saml's default digest for enveloped request signatures is SHA-1, which is refused.
    const sha1 = postedForm(await nodeSaml({ authnRequestBinding: 'HTTP-POST' }).getAuthorizeFormAsync('r', undefined, {}));
    const refused = await h.fetch('/auth/acme/saml/sso', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(sha1.fields).toString() });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { code: string }).code, 'signature_algorithm');
    const saml = nodeSaml({ authnRequestBinding: 'HTTP-POST', digestAlgorithm: 'sha256' });
    const browser = new Browser();
    const formHtml = await saml.getAuthorizeFormAsync('relay-post', undefined, {});
    const req = postedForm(formHtml);
    assert.equal(req.action, `${h.baseUrl}/auth/acme/saml/sso`);
    const res = await browser.fetch(req.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(req.fields).toString() });
    const html = await res.text();
    assert.equal(res.status, 200, html);
    const login = await browser.submit(html, { username: 'alice', password: 'correct horse battery' });
    const posted = postedForm(await login.text());
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: posted.fields.SAMLResponse!, RelayState: 'relay-post' });
    assert.equal(profile!.email, 'alice@acme.example');
  });

  it('signs with RSA-SHA256 over exclusive c14n, and xmlsec1 verifies the Response independently', async () => {
    const saml = nodeSaml();
    const posted = await signIn(new Browser(), await saml.getAuthorizeUrlAsync('x', undefined, {}));
    const xml = Buffer.from(posted.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(xml, /SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
    assert.match(xml, /CanonicalizationMethod Algorithm="http:\/\/www\.w3\.org\/2001\/10\/xml-exc-c14n#"/);
    const pem = `-----BEGIN CERTIFICATE-----\n${idpCert.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    const ok = await xmlsecVerify(xml, pem, 'urn:oasis:names:tc:SAML:2.0:protocol:Response');
    assert.equal(ok.ok, true, ok.output);
    // A tampered NameID fails both xmlsec1 and the SP.
    const tampered = xml.replace(/(<saml:NameID[^>]*>)[^<]+/, '$1mallory');
    assert.notEqual(tampered, xml);
    assert.equal((await xmlsecVerify(tampered, pem, 'urn:oasis:names:tc:SAML:2.0:protocol:Response')).ok, false);
    await assert.rejects(saml.validatePostResponseAsync({ SAMLResponse: Buffer.from(tampered).toString('base64') }));
  });

  it('completes IdP-initiated sign-in with RelayState', async () => {
    const saml = nodeSaml({ validateInResponseTo: 'never' });
    const posted = await signIn(new Browser(), `${h.baseUrl}/auth/acme/saml/idp-initiated?sp=${encodeURIComponent(SP_ID)}&RelayState=%2Fdashboard`);
    assert.equal(posted.fields.RelayState, '/dashboard');
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: posted.fields.SAMLResponse! });
    assert.equal(profile!.email, 'alice@acme.example');
    assert.equal(profile!.inResponseTo, undefined);
  });

  it('answers IsPassive without a session with NoPassive, and ForceAuthn with the sign-in form', async () => {
    const passive = nodeSaml({ passive: true });
    const res = await new Browser().fetch(await passive.getAuthorizeUrlAsync('p', undefined, {}));
    const posted = postedForm(await res.text());
    const xml = Buffer.from(posted.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(xml, /status:NoPassive/);
    // node-saml reads a signed NoPassive as "not signed in" (and throws when it is not signed).
    assert.deepEqual(await passive.validatePostResponseAsync({ SAMLResponse: posted.fields.SAMLResponse! }), { profile: null, loggedOut: false });

    const browser = new Browser();
    await signIn(browser, await nodeSaml().getAuthorizeUrlAsync('a', undefined, {}));
    const forced = await browser.fetch(await nodeSaml({ forceAuthn: true }).getAuthorizeUrlAsync('f', undefined, {}));
    assert.match(await forced.text(), /name="password"/);
  });

  it('ends the session with a signed LogoutRequest and answers with a signed LogoutResponse', async () => {
    const saml = nodeSaml();
    const browser = new Browser();
    const posted = await signIn(browser, await saml.getAuthorizeUrlAsync('s', undefined, {}));
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: posted.fields.SAMLResponse!, RelayState: 's' });
    const logoutUrl = await saml.getLogoutUrlAsync(profile!, 'bye', {});
    const res = await browser.fetch(logoutUrl);
    assert.equal(res.status, 303);
    const location = res.headers.get('location')!;
    assert.ok(location.startsWith('https://sp.example/saml/slo?SAMLResponse='));
    const query = new URL(location).searchParams;
    const { loggedOut } = await saml.validateRedirectAsync(Object.fromEntries(query), new URL(location).search.slice(1));
    assert.equal(loggedOut, true);
    const sessions = await tdb.database.query<{ revoked: boolean }>(sql`select revoked_at is not null as revoked from auth.sessions s join auth.users u on u.id = s.user_id where u.username = 'alice' order by s.created_at desc limit 1`);
    assert.equal(sessions[0]!.revoked, true);
    // The browser's next request needs a password again: the session OIDC sign-ins share has ended.
    const next = await browser.fetch(await saml.getAuthorizeUrlAsync('n', undefined, {}));
    assert.match(await next.text(), /name="password"/);
  });

  it('tells the other SPs of the session front-channel when one logs out, with signed LogoutRequests', async () => {
    const one = nodeSaml();
    const two = nodeSaml({ issuer: SP2_ID, audience: SP2_ID, callbackUrl: SP2_ACS, logoutCallbackUrl: 'https://sp2.example/slo' });
    const browser = new Browser();
    const p1 = await signIn(browser, await one.getAuthorizeUrlAsync('1', undefined, {}));
    const { profile } = await one.validatePostResponseAsync({ SAMLResponse: p1.fields.SAMLResponse!, RelayState: '1' });
    const p2 = await signIn(browser, await two.getAuthorizeUrlAsync('2', undefined, {}));
    const second = await two.validatePostResponseAsync({ SAMLResponse: p2.fields.SAMLResponse!, RelayState: '2' });
    const res = await browser.fetch(await one.getLogoutUrlAsync(profile!, 'bye', {}));
    assert.equal(res.status, 200);
    const page = await res.text();
    const frame = /<iframe src="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, '&');
    assert.ok(frame.startsWith('https://sp2.example/slo?SAMLRequest='));
    const url = new URL(frame);
    const told = await two.validateRedirectAsync(Object.fromEntries(url.searchParams), url.search.slice(1));
    assert.equal(told.loggedOut, true);
    assert.equal(told.profile!.nameID, second.profile!.nameID);
    // The initiator still gets its LogoutResponse.
    const back = /<a id="next" href="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, '&');
    assert.ok(back.startsWith('https://sp.example/saml/slo?SAMLResponse='));
  });
});
