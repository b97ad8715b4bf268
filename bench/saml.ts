// Signed SAML SSO responses per second: an SP-initiated AuthnRequest (HTTP-POST) from a browser
// that has a session, answered by the auth functions in process (request recorded once, session
// looked up, attributes and nested groups read, participant and audit rows written, Assertion and
// Response signed), against the baseline of a loop that only builds the same Response and signs it
// with xml-crypto (Assertion, then Response: no HTTP, no database), in the same run. Rounds
// interleave (A, B, A, B).
// Run: node --conditions=development --import tsx bench/saml.ts
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '#tests/support/database';
import { addMembers, insertGroup } from '#functions/auth/core/groups';
import { samlEndpoints } from '#functions/auth/core/saml/idp-metadata';
import { buildSuccessResponse } from '#functions/auth/core/saml/response';
import { Browser } from '#functions/auth/testing/browser';
import { makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { startAuthHarness } from '#functions/auth/testing/harness';
import { adminCall, adminToken, postedForm, spKeyPair } from '#functions/auth/testing/saml';

const ROUNDS = 4;
const PER_ROUND = 100;
const SP_ID = 'https://bench.example/sp';
const ACS = 'https://bench.example/acs';

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
  const sso = samlEndpoints(`${h.baseUrl}/auth/bench`).sso;
  const request = () =>
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sso}" AssertionConsumerServiceURL="${ACS}"><saml:Issuer>${SP_ID}</saml:Issuer></samlp:AuthnRequest>`;
  const browser = new Browser();
  const send = () => browser.fetch(sso, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLRequest: Buffer.from(request()).toString('base64') }).toString() });
  // Sign in once; every request after rides on the session.
  const first = await (await send()).text();
  postedForm(await (await browser.submit(first, { username: 'bench', password: 'bench password 1' })).text());

  const key = spKeyPair('bench IdP key');
  const assertion = { idpEntityId: 'https://idp.example', spEntityId: SP_ID, acsUrl: ACS, inResponseTo: '_x', nameId: 'n', nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', sessionIndex: '_s', authnInstant: new Date(), sessionNotOnOrAfter: new Date(Date.now() + 86_400_000), authnContextClass: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport', attributes: [{ name: 'email', values: ['bench@bench.example'] }, { name: 'groups', values: ['g1', 'g2'] }] };
  const signing = { privatePem: key.privatePem, certificate: key.certDer, signResponse: true, signAssertion: true };

  const timeIt = async (fn: () => Promise<unknown> | unknown) => {
    const s = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) await fn();
    return Number(process.hrtime.bigint() - s) / 1e9;
  };
  for (let i = 0; i < 20; i++) {
    await (await send()).text();
    buildSuccessResponse(assertion, signing);
  }
  let ssoSeconds = 0;
  let bareSeconds = 0;
  for (let r = 0; r < ROUNDS; r++) {
    ssoSeconds += await timeIt(async () => {
      const res = await send();
      if (res.status !== 200) throw new Error(`SSO answered ${res.status}`);
      await res.text();
    });
    bareSeconds += await timeIt(() => buildSuccessResponse(assertion, signing));
  }
  const n = ROUNDS * PER_ROUND;
  const ssoRate = n / ssoSeconds;
  const bareRate = n / bareSeconds;
  const load = execSync('uptime').toString().trim().replace(/.*load average/, 'load average');
  console.log(`bench/saml: signed SSO responses, ${n} each side, rounds interleaved (${load})`);
  console.log(`  baseline: Response built, signed twice (xml-crypto)${bareRate.toFixed(0)} /s`);
  console.log(`  SP-initiated SSO over HTTP (session, DB, audit)   ${ssoRate.toFixed(0)} /s  ratio to baseline ${(ssoRate / bareRate).toFixed(2)}`);
} finally {
  await h.close();
  await tdb.drop();
}
