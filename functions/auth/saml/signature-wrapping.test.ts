// The eight classic XML signature wrapping variants (Somorovsky et al., "On Breaking SAML: Be
// Whoever You Want to Be", USENIX Security 2012; as SAML Raider builds them), carried over from a
// signed Response/Assertion to what an IdP verifies: an SP's signed AuthnRequest and LogoutRequest,
// whose signature is on the root. In each, the attacker holds one genuinely signed message (G, its
// copy without the signature R°, its ds:Signature S) and wants the IdP to act on evil content E:
// another registered ACS for an AuthnRequest, another user's NameID for a LogoutRequest. Then:
// comment injection in NameID and Issuer (the 2018 canonicalisation-and-text-node flaw), and DTD,
// entity and XInclude payloads at the logout endpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { recordParticipant } from '../core/saml/participants.js';
import { signElement } from '../core/saml/signing.js';
import { createSession } from '../core/sessions.js';
import type { Tenant } from '../core/schema.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, spKeyPair } from '../testing/saml.js';

const SP = 'https://xsw.example/sp';
const ACS = 'https://xsw.example/acs';
const OTHER_ACS = 'https://xsw.example/other-acs';
const SLO = 'https://xsw.example/slo';
const OPEN_SP = 'https://open-xsw.example/sp';
const OPEN_ACS = 'https://open-xsw.example/acs';
const P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const SIGNATURE = /<ds:Signature[\s\S]*<\/ds:Signature>/;

const newId = () => `_${randomBytes(16).toString('hex')}`;
const idOf = (xml: string) => /ID="([^"]+)"/.exec(xml)![1]!;
const withId = (xml: string, id: string) => xml.replace(/ID="[^"]+"/, `ID="${id}"`);
/** `xml` with `inner` added as the root's last child. */
const appendToRoot = (xml: string, inner: string) => xml.replace(/(<\/samlp:[A-Za-z]+>)$/, `${inner}$1`);
/** The signature element with `inner` added as its last child. */
const intoSignature = (sig: string, inner: string) => sig.replace(/<\/ds:Signature>$/, `${inner}</ds:Signature>`);
/** `xml` with `sig` placed right after the root's Issuer (where SAML Core §5.4.1 puts it). */
const afterIssuer = (xml: string, sig: string) => xml.replace('</saml:Issuer>', `</saml:Issuer>${sig}`);

/**
 * The eight variants for a root-signed message. `genuine` is the signed message; `evil(id)` the
 * attacker's unsigned message with that ID. Response-level XSW1/2 keep their shape; the
 * Assertion-level ones (3 to 8) have the evil message as the document's root, since the signed
 * element of a request is itself the root. Each comes with the refusal it gets: the signature not
 * on the root, or not covering what the root says (`signature_wrapping`), or the root, which the
 * reference resolves to, not matching the digest (`signature_invalid`).
 */
function wrappingVariants(genuine: string, evil: (id: string) => string): [name: string, xml: string, code: string][] {
  const sig = SIGNATURE.exec(genuine)![0];
  const unsigned = genuine.replace(sig, '');
  const id = idOf(genuine);
  const evilId = newId();
  return [
    // XSW1: the evil message (new ID) keeps the signature; the unsigned original goes inside it.
    ['XSW1', afterIssuer(evil(evilId), intoSignature(sig, unsigned)), 'signature_wrapping'],
    // XSW2: the unsigned original as a sibling before the signature (a detached signature).
    ['XSW2', afterIssuer(evil(evilId), unsigned + sig), 'signature_wrapping'],
    // XSW3: the evil message (new ID, unsigned) first, the signed original after it.
    ['XSW3', appendToRoot(evil(evilId), genuine), 'signature_wrapping'],
    // XSW4: the evil message wraps the signed original (nested in a foreign element).
    ['XSW4', appendToRoot(evil(evilId), `<w:Wrapper xmlns:w="urn:example:wrapper">${genuine}</w:Wrapper>`), 'signature_wrapping'],
    // XSW5: the signature stays on the evil message, which takes the original's ID; the unsigned original is appended at the end.
    ['XSW5', appendToRoot(afterIssuer(evil(id), sig), unsigned), 'signature_invalid'],
    // XSW6: as XSW5, the unsigned original inside the signature.
    ['XSW6', afterIssuer(evil(id), intoSignature(sig, unsigned)), 'signature_invalid'],
    // XSW7: the signed original intact, an evil copy in samlp:Extensions (which allows any element).
    ['XSW7', appendToRoot(genuine, `<samlp:Extensions>${withId(evil(evilId), newId())}</samlp:Extensions>`), 'signature_invalid'],
    // XSW8: as XSW6, the unsigned original inside a ds:Object of the signature (XML-DSig §4.6).
    ['XSW8', afterIssuer(evil(id), intoSignature(sig, `<ds:Object>${unsigned}</ds:Object>`)), 'signature_invalid'],
  ];
}

describe('SAML signature wrapping (the eight XSW variants), comment injection and DTD refusals on signed SP requests', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  const sp = spKeyPair('XSW SP');
  const sessions: Record<'alice' | 'bob' | 'victim' | 'attacker', string> = { alice: '', bob: '', victim: '', attacker: '' };
  const nameIds = { alice: 'alice-pairwise', bob: 'bob-pairwise', victim: 'victim@example.com', attacker: 'victim@example.com.evil.example' };

  const sso = () => `${h.baseUrl}/auth/umbrella/saml/sso`;
  const slo = () => `${h.baseUrl}/auth/umbrella/saml/slo`;
  const authnRequest = (o: { id?: string; acs?: string; issuer?: string } = {}) =>
    `<samlp:AuthnRequest xmlns:samlp="${P}" xmlns:saml="${A}" ID="${o.id ?? newId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sso()}"` +
    ` AssertionConsumerServiceURL="${o.acs ?? ACS}"><saml:Issuer>${o.issuer ?? SP}</saml:Issuer></samlp:AuthnRequest>`;
  const logoutRequest = (o: { id?: string; nameId: string; sessionIndex?: string }) =>
    `<samlp:LogoutRequest xmlns:samlp="${P}" xmlns:saml="${A}" ID="${o.id ?? newId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${slo()}">` +
    `<saml:Issuer>${SP}</saml:Issuer><saml:NameID Format="${PERSISTENT}">${o.nameId}</saml:NameID>` +
    (o.sessionIndex ? `<samlp:SessionIndex>${o.sessionIndex}</samlp:SessionIndex>` : '') +
    `</samlp:LogoutRequest>`;
  const sign = (xml: string, localName: 'AuthnRequest' | 'LogoutRequest') => signElement(xml, { id: idOf(xml), localName, privatePem: sp.privatePem, certificate: sp.certDer });
  const post = (path: 'sso' | 'slo', xml: string, encode = (x: string) => Buffer.from(x).toString('base64')) =>
    h.fetch(`/auth/umbrella/saml/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLRequest: encode(xml) }).toString(),
    });
  const live = async (who: keyof typeof sessions) =>
    (await tdb.database.query<{ live: boolean }>(sql`select revoked_at is null as live from auth.sessions where id = ${sessions[who]}`))[0]!.live;
  async function refused(res: Response, codes: string[], what: string): Promise<void> {
    const text = await res.text();
    assert.ok(res.status === 403 || res.status === 400, `${what}: ${res.status} ${text.slice(0, 300)}`);
    const { code } = JSON.parse(text) as { code: string };
    assert.ok(codes.includes(code), `${what}: ${code}`);
  }

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    tenant = await makeTenant(tdb.database.db, 'umbrella');
    const token = await adminToken(h);
    for (const body of [
      { entity_id: SP, acs: [{ url: ACS, index: 0, is_default: true }, { url: OTHER_ACS, index: 1 }], slo_url: SLO, slo_binding: 'post', certificates: [sp.certPem], want_authn_requests_signed: true, name_id_format: PERSISTENT },
      { entity_id: OPEN_SP, acs: [{ url: OPEN_ACS, index: 0 }] },
    ]) {
      const res = await adminCall(h, token, 'POST', '/tenants/umbrella/saml/service-providers', body);
      assert.equal(res.status, 201, await res.clone().text());
    }
    const [row] = await tdb.database.query<{ id: string }>(sql`select id from auth.saml_service_providers where entity_id = ${SP}`);
    for (const who of Object.keys(sessions) as (keyof typeof sessions)[]) {
      const user = await makeUser(tdb.database.db, tenant, { username: who, password: 'not used here at all' });
      const { session } = await createSession(tdb.database.db, { tenantId: tenant.id, userId: user.id, acr: 'urn:zeno:acr:pwd', amr: ['pwd'], userAgent: 'test', ip: '127.0.0.1' });
      sessions[who] = session.id;
      await recordParticipant(tdb.database.db, { tenantId: tenant.id, sessionId: session.id, spId: row!.id, nameId: nameIds[who], nameIdFormat: PERSISTENT, sessionIndex: `_si_${who}` });
    }
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('AuthnRequest: refuses all eight wrapping variants that point the IdP at another registered ACS', async () => {
    // The baseline: the genuine request is accepted.
    const baseline = await post('sso', sign(authnRequest(), 'AuthnRequest'));
    assert.equal(baseline.status, 200);
    for (const [name, xml, code] of wrappingVariants(sign(authnRequest(), 'AuthnRequest'), (id) => authnRequest({ id, acs: OTHER_ACS }))) {
      await refused(await post('sso', xml), [code], name);
    }
    // The genuine request alone would still be accepted: the refusals are the wrapping's.
    assert.equal((await post('sso', sign(authnRequest(), 'AuthnRequest'))).status, 200);
  });

  it('LogoutRequest: refuses all eight wrapping variants that name another user; no session ends', async () => {
    const genuine = sign(logoutRequest({ nameId: nameIds.alice, sessionIndex: '_si_alice' }), 'LogoutRequest');
    for (const [name, xml, code] of wrappingVariants(genuine, (id) => logoutRequest({ id, nameId: nameIds.bob, sessionIndex: '_si_bob' }))) {
      await refused(await post('slo', xml), [code], name);
    }
    assert.equal(await live('bob'), true);
    assert.equal(await live('alice'), true);
    // The genuine message ends alice's session, and only hers.
    const res = await post('slo', genuine);
    assert.equal(res.status, 200, (await res.text()).slice(0, 300));
    assert.equal(await live('alice'), false);
    assert.equal(await live('bob'), true);
  });

  it('reads a NameID with a comment injected as the whole text the signature covers, not the text before the comment', async () => {
    // The SP signed a logout of the attacker (NameID victim@example.com.evil.example); a comment
    // injected after the signing leaves the canonical form, and so the signature, unchanged.
    const signed = sign(logoutRequest({ nameId: nameIds.attacker }), 'LogoutRequest');
    const injected = signed.replace(`>${nameIds.attacker}<`, '>victim@example.com<!---->.evil.example<');
    assert.notEqual(injected, signed);
    const res = await post('slo', injected);
    assert.equal(res.status, 200, (await res.text()).slice(0, 300));
    assert.equal(await live('victim'), true, 'the victim, whose NameID is the text before the comment, stays signed in');
    assert.equal(await live('attacker'), false);
  });

  it('reads an Issuer with a comment injected whole: an unsigned request cannot pass for another SP', async () => {
    // A reader of the first text node would see OPEN_SP; the whole text names no registered SP.
    await refused(await post('sso', authnRequest({ issuer: `${OPEN_SP}<!---->.evil`, acs: OPEN_ACS })), ['unknown_sp'], 'issuer comment');
    // A comment inside a signed request's Issuer changes nothing the signature covers: the same SP.
    const signed = sign(authnRequest(), 'AuthnRequest');
    const res = await post('sso', signed.replace(`>${SP}<`, `>${SP.slice(0, 10)}<!-- note -->${SP.slice(10)}<`));
    assert.equal(res.status, 200);
  });

  it('refuses DTDs, entities and external subsets at the logout endpoint over both bindings, and XInclude is not followed', async () => {
    const body = logoutRequest({ nameId: '&xxe;' });
    const payloads: [string, string][] = [
      ['external entity', `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${body}`],
      ['parameter entity', `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>${body}`],
      ['external subset', `<?xml version="1.0"?><!DOCTYPE samlp:LogoutRequest SYSTEM "http://127.0.0.1:9/evil.dtd">${logoutRequest({ nameId: nameIds.bob })}`],
      ['billion laughs', `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY xxe "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>${body}`],
      ['DTD after a comment', `<!-- hello --><!DOCTYPE r [<!ENTITY xxe "bob-pairwise">]>${body}`],
    ];
    for (const [name, xml] of payloads) {
      await refused(await post('slo', xml), ['dtd_refused'], `${name} (POST)`);
      await refused(await post('slo', xml, (x) => deflateRawSync(x).toString('base64')), ['dtd_refused'], `${name} (POST, DEFLATE)`);
      await refused(await h.fetch(`/auth/umbrella/saml/slo?SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`), ['dtd_refused'], `${name} (Redirect)`);
    }
    // An entity reference with no DTD to declare it is not well-formed: nothing to expand.
    await refused(await post('slo', body), ['malformed_xml'], 'undeclared entity');
    // XInclude is not processed: the included file never becomes the NameID.
    const xinclude = sign(logoutRequest({ nameId: `<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/hostname" parse="text"/>` }), 'LogoutRequest');
    await refused(await post('slo', xinclude), ['invalid_request'], 'xinclude');
    assert.equal(await live('bob'), true);
  });

  it('leaves an audit row for every wrapping refusal', async () => {
    const rows = await tdb.database.query<{ code: string; n: number }>(
      sql`select detail->>'code' as code, count(*)::int as n from auth.audit where action = 'saml.refused' and detail->>'code' like 'signature%' group by 1`,
    );
    const total = rows.reduce((n, r) => n + r.n, 0);
    assert.ok(total >= 16, JSON.stringify(rows));
  });
});
