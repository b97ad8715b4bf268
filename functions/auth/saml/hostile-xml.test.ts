import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { signElement } from '../core/saml/signing.js';
import { makeTenant } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, spKeyPair } from '../testing/saml.js';

const SIGNED_SP = 'https://signed.example/sp';
const OPEN_SP = 'https://open.example/sp';
const ACS = 'https://signed.example/acs';
const OPEN_ACS = 'https://open.example/acs';
const P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const A = 'urn:oasis:names:tc:SAML:2.0:assertion';

describe('SAML SSO endpoint against hostile messages (SAML Bindings §3.4, §3.5; XML-DSig)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let sso: string;
  const sp = spKeyPair('signed SP');
  const stranger = spKeyPair('someone else');

  const newId = () => `_${randomBytes(16).toString('hex')}`;
  const now = () => new Date().toISOString();
  const request = (o: { id?: string; issuer?: string; destination?: string | null; acs?: string; instant?: string; inner?: string } = {}) =>
    `<samlp:AuthnRequest xmlns:samlp="${P}" xmlns:saml="${A}" ID="${o.id ?? newId()}" Version="2.0" IssueInstant="${o.instant ?? now()}"` +
    (o.destination === null ? '' : ` Destination="${o.destination ?? sso}"`) +
    ` AssertionConsumerServiceURL="${o.acs ?? ACS}"><saml:Issuer>${o.issuer ?? SIGNED_SP}</saml:Issuer>${o.inner ?? ''}</samlp:AuthnRequest>`;
  const signed = (xml: string, key = sp.privatePem, cert = sp.certDer) => signElement(xml, { id: /ID="([^"]+)"/.exec(xml)![1]!, localName: 'AuthnRequest', privatePem: key, certificate: cert });
  const post = (xml: string, encode = (x: string) => Buffer.from(x).toString('base64')) =>
    h.fetch('/auth/acme/saml/sso', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLRequest: encode(xml) }).toString() });
  const redirect = (xml: string, extra = '') => h.fetch(`/auth/acme/saml/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}${extra}`);
  async function refused(res: Response, status: number, code: string) {
    const body = (await res.json()) as { code: string };
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(body.code, code);
  }

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    sso = `${h.baseUrl}/auth/acme/saml/sso`;
    const token = await adminToken(h);
    await makeTenant(tdb.database.db, 'acme');
    for (const body of [
      { entity_id: SIGNED_SP, acs: [{ url: ACS, index: 0 }], certificates: [sp.certPem], want_authn_requests_signed: true },
      { entity_id: OPEN_SP, acs: [{ url: OPEN_ACS, index: 1 }] },
    ]) assert.equal((await adminCall(h, token, 'POST', '/tenants/acme/saml/service-providers', body)).status, 201);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('accepts a correctly signed request over HTTP-POST (the baseline the attacks below start from)', async () => {
    const res = await post(signed(request()));
    assert.equal(res.status, 200);
    assert.match(await res.text(), /name="password"/);
  });

  it('refuses a DTD with an external entity (XXE) before parsing it', async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + request({ issuer: '&x;' });
    await refused(await post(xxe), 400, 'dtd_refused');
    await refused(await redirect(xxe), 400, 'dtd_refused');
  });

  it('refuses the billion laughs', async () => {
    const lol = ['<!ENTITY lol "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`)].join('');
    await refused(await post(`<?xml version="1.0"?><!DOCTYPE lolz [${lol}]>${request({ issuer: '&lol9;' })}`), 400, 'dtd_refused');
  });

  it('refuses oversized messages, a DEFLATE bomb and deep nesting', async () => {
    await refused(await post(request({ inner: `<samlp:Extensions>${'x'.repeat(100_000)}</samlp:Extensions>` })), 413, 'message_too_large');
    await refused(await redirect(request({ inner: `<samlp:Extensions>${' '.repeat(5_000_000)}</samlp:Extensions>` })), 413, 'message_too_large');
    const deep = '<samlp:Extensions>'.repeat(60) + '</samlp:Extensions>'.repeat(60);
    await refused(await post(request({ inner: deep })), 400, 'message_too_deep');
    await refused(await post('<samlp:AuthnRequest xmlns:samlp="x"><unclosed></samlp:AuthnRequest>'), 400, 'malformed_xml');
    const big = await h.fetch('/auth/acme/saml/sso', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: request() });
    assert.equal(big.status, 415);
  });

  it('accepts each request id once per SP (a replayed AuthnRequest is refused)', async () => {
    const xml = request({ issuer: OPEN_SP, acs: OPEN_ACS });
    assert.equal((await post(xml)).status, 200);
    await refused(await post(xml), 403, 'request_replayed');
    await refused(await redirect(xml), 403, 'request_replayed');
  });

  it('checks Destination, the ACS URL, the issue instant and the issuer', async () => {
    await refused(await post(request({ issuer: OPEN_SP, acs: OPEN_ACS, destination: 'https://elsewhere.example/sso' })), 400, 'destination_mismatch');
    await refused(await post(request({ issuer: OPEN_SP, acs: 'https://attacker.example/acs' })), 400, 'unknown_acs');
    await refused(await post(request({ issuer: OPEN_SP, acs: OPEN_ACS, instant: new Date(Date.now() - 3_600_000).toISOString() })), 400, 'request_expired');
    await refused(await post(request({ issuer: OPEN_SP, acs: OPEN_ACS, instant: new Date(Date.now() + 3_600_000).toISOString() })), 400, 'request_not_yet_valid');
    await refused(await post(request({ issuer: 'https://unknown.example' })), 403, 'unknown_sp');
    // A signed request must name its Destination (SAML Bindings §3.5.5.2).
    await refused(await post(signed(request({ destination: null }))), 400, 'destination_mismatch');
  });

  it('refuses an unsigned request from an SP that signs, a tampered one, and one signed by another key', async () => {
    await refused(await post(request()), 403, 'signature_missing');
    const tampered = signed(request()).replace(`AssertionConsumerServiceURL="${ACS}"`, 'AssertionConsumerServiceURL="https://attacker.example/acs"');
    await refused(await post(tampered), 403, 'signature_invalid');
    await refused(await post(signed(request(), stranger.privatePem, stranger.certDer)), 403, 'signature_invalid');
  });

  it('refuses signature wrapping: the signed request moved inside an unsigned one, the signature on the wrapper, two signatures', async () => {
    const genuine = signed(request());
    // 1: an unsigned evil request carrying the genuine signed one in Extensions.
    const wrapped = request({ acs: 'https://attacker.example/acs', inner: `<samlp:Extensions>${genuine}</samlp:Extensions>` });
    await refused(await post(wrapped), 403, 'signature_wrapping');
    // 2: the signature moved to the evil root, still referencing the genuine request inside.
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(genuine)![0];
    const stripped = genuine.replace(sig, '');
    const evilId = newId();
    const moved = request({ id: evilId, acs: 'https://attacker.example/acs', inner: `${sig}<samlp:Extensions>${stripped}</samlp:Extensions>` });
    await refused(await post(moved), 403, 'signature_wrapping');
    // 3: the evil root takes the genuine ID, so the reference URI matches it, with the genuine copy hidden inside.
    const genuineId = /ID="([^"]+)"/.exec(genuine)![1]!;
    const sameId = request({ id: genuineId, acs: 'https://attacker.example/acs', inner: `${sig}<samlp:Extensions>${stripped}</samlp:Extensions>` });
    const res = await post(sameId);
    assert.equal(res.status, 403);
    // 4: a second signature beside the genuine one.
    await refused(await post(genuine.replace('</samlp:AuthnRequest>', `${sig}</samlp:AuthnRequest>`)), 403, 'signature_missing');
  });

  it('verifies HTTP-Redirect signatures over the query as sent, RSA-SHA256 only', async () => {
    const xml = request({ destination: sso });
    const msg = `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`;
    const sha256 = encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const sigOf = (octets: string, key = sp.privateKey) => encodeURIComponent(sign('sha256', Buffer.from(octets), key).toString('base64'));
    const ok = await h.fetch(`/auth/acme/saml/sso?${msg}&SigAlg=${sha256}&Signature=${sigOf(`${msg}&SigAlg=${sha256}`)}`);
    assert.equal(ok.status, 200);
    const xml2 = request();
    const msg2 = `SAMLRequest=${encodeURIComponent(deflateRawSync(xml2).toString('base64'))}`;
    await refused(await h.fetch(`/auth/acme/saml/sso?${msg2}&SigAlg=${sha256}&Signature=${sigOf(`${msg2}&SigAlg=${sha256}`, stranger.privateKey)}`), 403, 'signature_invalid');
    // RelayState added after signing is not covered: refused.
    await refused(await h.fetch(`/auth/acme/saml/sso?${msg2}&RelayState=evil&SigAlg=${sha256}&Signature=${sigOf(`${msg2}&SigAlg=${sha256}`)}`), 403, 'signature_invalid');
    const sha1 = encodeURIComponent('http://www.w3.org/2000/09/xmldsig#rsa-sha1');
    await refused(await h.fetch(`/auth/acme/saml/sso?${msg2}&SigAlg=${sha1}&Signature=${sigOf(`${msg2}&SigAlg=${sha1}`)}`), 403, 'signature_algorithm');
  });

  it('leaves an audit row for every refusal, with its code', async () => {
    const rows = await tdb.database.query<{ code: string }>(sql`select detail->>'code' as code from auth.audit where action = 'saml.refused'`);
    const codes = new Set(rows.map((r) => r.code));
    for (const c of ['dtd_refused', 'message_too_large', 'message_too_deep', 'request_replayed', 'destination_mismatch', 'signature_missing', 'signature_invalid', 'signature_wrapping', 'signature_algorithm']) {
      assert.ok(codes.has(c), `no audit row for ${c}`);
    }
  });
});
