import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SAML } from '@node-saml/node-saml';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { Browser } from '../testing/browser.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, postedForm, spKeyPair, xmlsecVerify } from '../testing/saml.js';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const REDIRECT_SP = { id: 'https://redirect.example/sp', acs: 'https://redirect.example/acs', slo: 'https://redirect.example/slo' };
const POST_SP = { id: 'https://post.example/sp', acs: 'https://post.example/acs', slo: 'https://post.example/slo' };

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The forms the signed-out page posts into its frames: action, target frame and SAMLRequest. */
function postedFrames(html: string): { action: string; target: string; xml: string; b64: string }[] {
  return [...html.matchAll(/<form([^>]*data-slo[^>]*)>([\s\S]*?)<\/form>/g)].map((m) => {
    const attrs = m[1]!;
    const b64 = unescape(/name="SAMLRequest" value="([^"]+)"/.exec(m[2]!)![1]!);
    return { action: unescape(/action="([^"]+)"/.exec(attrs)![1]!), target: /target="([^"]+)"/.exec(attrs)![1]!, xml: Buffer.from(b64, 'base64').toString('utf8'), b64 };
  });
}

describe('SAML front-channel single logout to HTTP-POST SLO endpoints (SAML Profiles §4.4.3.3, Bindings §3.5)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let idpCert: string;
  let idpPem: string;
  const spKey = spKeyPair('POST SLO SPs');

  const nodeSaml = (sp: typeof POST_SP) =>
    new SAML({
      entryPoint: `${h.baseUrl}/auth/globex/saml/sso`,
      issuer: sp.id,
      callbackUrl: sp.acs,
      idpCert,
      audience: sp.id,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      identifierFormat: PERSISTENT,
      privateKey: spKey.privatePem,
      logoutUrl: `${h.baseUrl}/auth/globex/saml/slo`,
      logoutCallbackUrl: sp.slo,
    });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const token = await adminToken(h);
    const tenant = await makeTenant(tdb.database.db, 'globex');
    await makeUser(tdb.database.db, tenant, { username: 'hank', password: 'hammock district', email: 'hank@globex.example' });
    for (const [sp, binding] of [
      [REDIRECT_SP, 'redirect'],
      [POST_SP, 'post'],
    ] as const) {
      const res = await adminCall(h, token, 'POST', '/tenants/globex/saml/service-providers', {
        entity_id: sp.id,
        acs: [{ url: sp.acs, index: 0 }],
        slo_url: sp.slo,
        slo_binding: binding,
        certificates: [spKey.certPem],
        name_id_format: PERSISTENT,
      });
      assert.equal(res.status, 201, await res.clone().text());
    }
    const metadata = await (await h.fetch('/auth/globex/saml/metadata')).text();
    idpCert = /<ds:X509Certificate>([^<]+)</.exec(metadata)![1]!;
    idpPem = `-----BEGIN CERTIFICATE-----\n${idpCert.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  /** Signs `browser` in to `sp` (SP-initiated, Redirect) and returns the profile the SP accepted. */
  async function signIn(browser: Browser, sp: typeof POST_SP) {
    const saml = nodeSaml(sp);
    let html = await (await browser.fetch(await saml.getAuthorizeUrlAsync('r', undefined, {}))).text();
    if (html.includes('name="password"')) html = await (await browser.submit(html, { username: 'hank', password: 'hammock district' })).text();
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: postedForm(html).fields.SAMLResponse!, RelayState: 'r' });
    return profile!;
  }

  it('posts a signed LogoutRequest into a frame for the POST-bound SP when another SP logs out; the SP (node-saml) and xmlsec1 verify it', async () => {
    const browser = new Browser();
    const first = await signIn(browser, REDIRECT_SP);
    const second = await signIn(browser, POST_SP);
    const res = await browser.fetch(await nodeSaml(REDIRECT_SP).getLogoutUrlAsync(first, 'bye', {}));
    assert.equal(res.status, 200);
    const page = await res.text();
    const csp = res.headers.get('content-security-policy')!;
    assert.match(csp, /frame-src \*/);
    assert.doesNotMatch(csp, /form-action/);
    const [frame, ...more] = postedFrames(page);
    assert.ok(frame, page.slice(0, 600));
    assert.equal(more.length, 0);
    assert.equal(frame.action, POST_SP.slo);
    assert.match(page, new RegExp(`<iframe[^>]*name="${frame.target}"`));
    // The page's script posts it (the nonce'd script, allowed by the CSP).
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    assert.match(page, new RegExp(`<script nonce="${nonce.replace(/[+/=]/g, (c) => `\\${c}`)}">[^<]*form\\[data-slo\\][^<]*submit`));
    assert.match(frame.xml, /^<samlp:LogoutRequest[^>]*Destination="https:\/\/post\.example\/slo"/);
    assert.match(frame.xml, /<ds:Signature/);
    const told = await nodeSaml(POST_SP).validatePostRequestAsync({ SAMLRequest: frame.b64 });
    assert.equal(told.loggedOut, true);
    assert.equal(told.profile!.nameID, second.nameID);
    assert.equal(told.profile!.sessionIndex, second.sessionIndex);
    const checked = await xmlsecVerify(frame.xml, idpPem, 'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest');
    assert.equal(checked.ok, true, checked.output);
    assert.equal((await xmlsecVerify(frame.xml.replace(second.nameID, 'someone-else'), idpPem, 'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest')).ok, false);
    // The initiator still gets its LogoutResponse after the frames.
    assert.match(page, /<a id="next" href="https:\/\/redirect\.example\/slo\?SAMLResponse=/);
  });

  it('frames both bindings when the POST-bound SP logs out first, and answers it by POST after the frames', async () => {
    const browser = new Browser();
    const redirectProfile = await signIn(browser, REDIRECT_SP);
    const postProfile = await signIn(browser, POST_SP);
    const res = await browser.fetch(await nodeSaml(POST_SP).getLogoutUrlAsync(postProfile, 'bye', {}));
    const page = await res.text();
    assert.equal(postedFrames(page).length, 0);
    const src = unescape(/<iframe src="([^"]+)"/.exec(page)![1]!);
    const url = new URL(src);
    const told = await nodeSaml(REDIRECT_SP).validateRedirectAsync(Object.fromEntries(url.searchParams), url.search.slice(1));
    assert.equal(told.profile!.nameID, redirectProfile.nameID);
    // The initiator's binding is POST: its LogoutResponse is the form the script submits.
    const next = /<form id="next" method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page);
    assert.ok(next, page.slice(0, 600));
    assert.equal(unescape(next[1]!), POST_SP.slo);
    const response = unescape(/name="SAMLResponse" value="([^"]+)"/.exec(next[2]!)![1]!);
    const back = await nodeSaml(POST_SP).validatePostResponseAsync({ SAMLResponse: response, RelayState: 'bye' });
    assert.equal(back.loggedOut, true);
  });

  it('OIDC logout at {issuer}/logout posts the LogoutRequest to the POST-bound SP of the session too', async () => {
    const browser = new Browser();
    const profile = await signIn(browser, POST_SP);
    const confirm = await (await browser.fetch(`${h.baseUrl}/auth/globex/logout`)).text();
    const res = await browser.submit(confirm, { confirm: 'yes' }, /\/logout$/);
    assert.equal(res.status, 200);
    const [frame] = postedFrames(await res.text());
    assert.ok(frame);
    assert.equal(frame.action, POST_SP.slo);
    const told = await nodeSaml(POST_SP).validatePostRequestAsync({ SAMLRequest: frame.b64 });
    assert.equal(told.profile!.nameID, profile.nameID);
    // The session is over: the next sign-in asks for the password again.
    const again = await browser.fetch(await nodeSaml(POST_SP).getAuthorizeUrlAsync('x', undefined, {}));
    assert.match(await again.text(), /name="password"/);
  });
});
