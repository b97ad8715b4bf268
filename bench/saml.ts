// Signed SAML SSO responses per second: an SP-initiated AuthnRequest (HTTP-POST) from a browser
// that has a session, answered by the auth functions in process (request recorded once, session
// looked up, attributes and nested groups read, participant and audit rows written, Assertion and
// Response signed), to an SP that takes plain and to one that takes encrypted assertions, against
// the baseline of a bare xml-crypto loop that signs a fixed Response of the same shape twice
// (Assertion, then Response: none of our code, no HTTP, no database), in the same run. Rounds
// interleave (baseline, plain, encrypted, baseline, …).
// Run: node --conditions=development --import tsx bench/saml.ts   (BENCH_ROUNDS, BENCH_PER_ROUND)
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '#tests/support/database';
import { addMembers, insertGroup } from '#functions/auth/core/groups';
import { samlEndpoints } from '#functions/auth/core/saml/idp-metadata';
import { SignedXml } from 'xml-crypto';
import { ALG } from '#functions/auth/core/saml/constants';
import { buildSuccessResponse } from '#functions/auth/core/saml/response';
import { Browser } from '#functions/auth/testing/browser';
import { makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { startAuthHarness } from '#functions/auth/testing/harness';
import { adminCall, adminToken, postedForm, spKeyPair } from '#functions/auth/testing/saml';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 100);
const SP_ID = 'https://bench.example/sp';
const ACS = 'https://bench.example/acs';
const ENC_SP_ID = 'https://bench.example/encrypted';
const ENC_ACS = 'https://bench.example/encrypted/acs';

/** The bare baseline: xml-crypto's enveloped RSA-SHA256 over exc-c14n, as signing.ts configures it. */
function bareSign(xml: string, id: string, localName: string, privatePem: string, certPem: string): string {
  const sig = new SignedXml({ privateKey: privatePem, publicCert: certPem, signatureAlgorithm: ALG.rsaSha256, canonicalizationAlgorithm: ALG.excC14n });
  const xpath = `//*[local-name(.)='${localName}' and @ID='${id}']`;
  sig.addReference({ xpath, transforms: [ALG.enveloped, ALG.excC14n], digestAlgorithm: ALG.sha256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

// Keys first: an RSA key generation between two requests can outlast the server's keep-alive.
const encKey = spKeyPair('bench SP encryption key');
const key = spKeyPair('bench IdP key');
const tdb = await createTestDatabase();
const h = await startAuthHarness(tdb.database, { listen: true });
try {
  const tenant = await makeTenant(tdb.database.db, 'bench');
  const user = await makeUser(tdb.database.db, tenant, { username: 'bench', password: 'bench password 1', email: 'bench@bench.example' });
  const g1 = (await insertGroup(tdb.database.db, tenant.id, { displayName: 'g1' }))!;
  const g2 = (await insertGroup(tdb.database.db, tenant.id, { displayName: 'g2' }))!;
  await addMembers(tdb.database.db, tenant.id, g1.id, [{ value: user.id, type: 'User' }]);
  await addMembers(tdb.database.db, tenant.id, g2.id, [{ value: g1.id, type: 'Group' }]);
  const token = await adminToken(h);
  await adminCall(h, token, 'POST', '/tenants/bench/saml/service-providers', {
    entity_id: SP_ID,
    acs: [{ url: ACS, index: 0 }],
    attributes: [{ name: 'email', source: 'email' }, { name: 'groups', source: 'groups' }],
  });
  await adminCall(h, token, 'POST', '/tenants/bench/saml/service-providers', {
    entity_id: ENC_SP_ID,
    acs: [{ url: ENC_ACS, index: 0 }],
    encryption_certificates: [encKey.certPem],
    encrypt_assertion: true,
    attributes: [{ name: 'email', source: 'email' }, { name: 'groups', source: 'groups' }],
  });
  const sso = samlEndpoints(`${h.baseUrl}/auth/bench`).sso;
  const request = (sp: string, acs: string) =>
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sso}" AssertionConsumerServiceURL="${acs}"><saml:Issuer>${sp}</saml:Issuer></samlp:AuthnRequest>`;
  const browser = new Browser();
  const send = (sp = SP_ID, acs = ACS) =>
    browser.fetch(sso, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLRequest: Buffer.from(request(sp, acs)).toString('base64') }).toString() });
  // Sign in once; every request after rides on the session.
  const first = await (await send()).text();
  postedForm(await (await browser.submit(first, { username: 'bench', password: 'bench password 1' })).text());

  // The baseline's input: an unsigned Response of the same shape, built once.
  const assertion = { idpEntityId: 'https://idp.example', spEntityId: SP_ID, acsUrl: ACS, inResponseTo: '_x', nameId: 'n', nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', sessionIndex: '_s', authnInstant: new Date(), sessionNotOnOrAfter: new Date(Date.now() + 86_400_000), authnContextClass: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport', attributes: [{ name: 'email', values: ['bench@bench.example'] }, { name: 'groups', values: ['g1', 'g2'] }] };
  const signed = await buildSuccessResponse(assertion, { privatePem: key.privatePem, certificate: key.certDer, signResponse: true, signAssertion: true });
  const unsigned = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
  const [responseId, assertionId] = [...unsigned.matchAll(/ ID="([^"]+)"/g)].map((m) => m[1]!);
  const bare = () => bareSign(bareSign(unsigned, assertionId!, 'Assertion', key.privatePem, key.certPem), responseId!, 'Response', key.privatePem, key.certPem);

  const ssoOnce = (sp?: string, acs?: string) => async () => {
    const res = await send(sp, acs);
    if (res.status !== 200) throw new Error(`SSO answered ${res.status}`);
    await res.text();
  };
  const timeIt = async (fn: () => Promise<unknown> | unknown) => {
    const s = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) await fn();
    return Number(process.hrtime.bigint() - s) / 1e9;
  };
  for (let i = 0; i < Math.min(20, PER_ROUND); i++) {
    await ssoOnce()();
    await ssoOnce(ENC_SP_ID, ENC_ACS)();
    bare();
  }
  let bareSeconds = 0;
  let ssoSeconds = 0;
  let encSeconds = 0;
  for (let r = 0; r < ROUNDS; r++) {
    bareSeconds += await timeIt(bare);
    ssoSeconds += await timeIt(ssoOnce());
    encSeconds += await timeIt(ssoOnce(ENC_SP_ID, ENC_ACS));
  }
  const n = ROUNDS * PER_ROUND;
  const [bareRate, ssoRate, encRate] = [n / bareSeconds, n / ssoSeconds, n / encSeconds];
  const load = execSync('uptime').toString().trim().replace(/.*load average/, 'load average');
  console.log(`bench/saml: signed SSO responses, ${n} each side, rounds interleaved (${load})`);
  console.log(`  baseline: bare xml-crypto, Assertion + Response signed   ${bareRate.toFixed(0)} /s`);
  console.log(`  SP-initiated SSO over HTTP (session, DB, audit)          ${ssoRate.toFixed(0)} /s  ratio to baseline ${(ssoRate / bareRate).toFixed(2)}`);
  console.log(`  the same, assertion encrypted (AES-256-GCM, RSA-OAEP)    ${encRate.toFixed(0)} /s  ratio to baseline ${(encRate / bareRate).toFixed(2)}`);
} finally {
  await h.close();
  await tdb.drop();
}
