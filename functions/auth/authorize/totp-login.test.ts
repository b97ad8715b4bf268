import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import * as OTPAuth from 'otpauth';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import type { Tenant } from '../core/schema.js';

const REDIRECT = 'http://localhost:9/cb';
/** Pages of each step, for a reader to look at (ignored by git). */
const SHOTS = join('test-output', 'auth-totp');

describe('TOTP second factor: enrolment, sign-in, replay, recovery codes, throttle (RFC 6238, RFC 8176)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let secret: string;
  let totp: OTPAuth.TOTP;
  let recovery: string[] = [];
  let enrolled = { code: '', at: 0 };
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    tenant = await makeTenant(tdb.database.db, 'mfa');
    ({ secret } = (await makeClient(tdb.database.db, tenant, { client_id: 'app', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], scope: 'openid', first_party: true })) as { secret: string });
    await makeUser(tdb.database.db, tenant, { username: 'tess', password: 'tess-password-1' });
    await mkdir(SHOTS, { recursive: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const authorizeUrl = () => `${h.baseUrl}/auth/mfa/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });

  async function passwordStep(b: Browser): Promise<Response> {
    const page = await b.fetch(authorizeUrl());
    return b.submit(await page.text(), { username: 'tess', password: 'tess-password-1' }, /\/login$/);
  }

  async function redeem(location: string): Promise<Record<string, unknown>> {
    const code = new URL(location).searchParams.get('code')!;
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const res = await h.fetch('/auth/mfa/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('app', secret) } });
    assert.equal(res.status, 200);
    return decodeJwt(((await res.json()) as { id_token: string }).id_token);
  }

  it('enrols an authenticator from the QR page, confirmed by a first code, and shows recovery codes once', async () => {
    const b = new Browser('Enrol/1.0');
    const first = await passwordStep(b);
    assert.equal(first.status, 303);
    assert.deepEqual((await redeem(first.headers.get('location')!)).amr, ['pwd']);
    const page = await b.fetch(`${h.baseUrl}/auth/mfa/account/totp`);
    assert.equal(page.status, 200);
    const html = await page.text();
    await writeFile(join(SHOTS, 'enrol.html'), html);
    const qr = /<img src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html);
    assert.ok(qr, 'a server-rendered QR code');
    assert.match(Buffer.from(qr[1]!, 'base64').toString(), /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const uri = /href="(otpauth:\/\/totp\/[^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
    totp = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
    assert.equal(totp.issuer, 'MFA');
    assert.equal(/<code id="totp-key">([A-Z2-7]+)<\/code>/.exec(html)![1], totp.secret.base32);
    const [stored] = await tdb.database.query<{ secret_sealed: string }>(sql`select secret_sealed from auth.totp_credentials`);
    assert.ok(!stored!.secret_sealed.includes(totp.secret.base32), 'the secret is sealed at rest');

    const wrong = await b.submit(html, { code: totp.generate({ timestamp: Date.now() - 300_000 }) }, /\/account\/totp$/);
    assert.equal(wrong.status, 400);
    enrolled = { at: Date.now(), code: '' };
    enrolled.code = totp.generate({ timestamp: enrolled.at });
    const done = await b.submit(html, { code: enrolled.code }, /\/account\/totp$/);
    assert.equal(done.status, 200);
    const codesPage = await done.text();
    await writeFile(join(SHOTS, 'recovery-codes.html'), codesPage);
    recovery = [...codesPage.matchAll(/<code>([A-Z2-7]{5}-[A-Z2-7]{5})<\/code>/g)].map((m) => m[1]!);
    assert.equal(recovery.length, 10);
    const rows = await tdb.database.query<{ code_hash: string }>(sql`select code_hash from auth.recovery_codes`);
    assert.equal(rows.length, 10);
    assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.code_hash) && !recovery.includes(r.code_hash)));
    assert.match(await (await b.fetch(`${h.baseUrl}/auth/mfa/account/totp`)).text(), /Your authenticator app is on/);
  });

  it('asks for the code after the password, refuses a used code, and puts otp and mfa in amr and acr', async () => {
    const b = new Browser('SignIn/1.0');
    const pw = await passwordStep(b);
    assert.equal(pw.status, 200, 'the password alone no longer completes the sign-in');
    const html = await pw.text();
    await writeFile(join(SHOTS, 'challenge.html'), html);
    assert.match(html, /Enter your code/);
    // The enrolment spent the current step's code: the same code is a replay.
    const replay = await b.submit(html, { code: enrolled.code }, /second-factor$/);
    assert.equal(replay.status, 401);
    assert.match(await replay.text(), /already used/);
    const ok = await b.submit(html, { code: totp.generate({ timestamp: enrolled.at + 30_000 }) }, /second-factor$/);
    assert.equal(ok.status, 303);
    const claims = await redeem(ok.headers.get('location')!);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.acr, 'urn:zenokube:acr:mfa');
    // The same form again: the challenge was spent with the sign-in.
    assert.equal((await b.submit(html, { code: totp.generate({ timestamp: enrolled.at + 60_000 }) }, /second-factor$/)).status, 400);
  });

  it('signs in once with each recovery code', async () => {
    const b = new Browser('Recovery/1.0');
    const html = await (await passwordStep(b)).text();
    const ok = await b.submit(html, { code: recovery[0]!.toLowerCase() }, /second-factor$/);
    assert.equal(ok.status, 303);
    const b2 = new Browser('Recovery/2.0');
    const html2 = await (await passwordStep(b2)).text();
    assert.equal((await b2.submit(html2, { code: recovery[0]! }, /second-factor$/)).status, 401);
    const [audited] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'login' and outcome = 'success' and detail->>'method' = 'recovery_code'`);
    assert.equal(audited!.n, 1);
  });

  it('slows down wrong codes without locking the account, with an audit row for each', async () => {
    const b = new Browser('Guess/1.0');
    const html = await (await passwordStep(b)).text();
    let status = 0;
    for (let i = 0; i < 4; i++) status = (await b.submit(html, { code: '000000' }, /second-factor$/)).status;
    assert.equal(status, 429);
    const rows = await tdb.database.query<{ action: string }>(sql`select action from auth.audit where action like 'login.second_factor%' order by id`);
    assert.ok(rows.filter((r) => r.action === 'login.second_factor').length >= 3);
    assert.ok(rows.some((r) => r.action === 'login.second_factor.throttled'));
  });
});
