import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { sql } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { saveBranding } from '../core/branding.js';
import { saveSignupPolicy } from '../core/signup-policy.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { BREACH_FIXTURE } from '../testing/breach-fixture.js';
import { launchChromium } from '../testing/chromium.js';
import { basicAuth, form, makeClient, makeTenant } from '../testing/fixtures.js';

/** Screenshots of each page, for a reader to look at (ignored by git). */
const SHOTS = join('test-output', 'auth-signup');

describe('sign-up in Chromium with JavaScript off: sign up, confirm the address, sign in', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let browser: Browser;
  let page: Page;
  let secret: string;
  let callback: Server;
  let REDIRECT: string;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');

  before(async () => {
    callback = createServer((_req, res) => res.end('callback'));
    await new Promise<void>((r) => callback.listen(0, '127.0.0.1', r));
    REDIRECT = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/cb`;
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true, env: { ZENO_AUTH_BREACHED_PASSWORDS_FILE: BREACH_FIXTURE } });
    const tenant = await makeTenant(tdb.database.db, 'brand');
    await saveSignupPolicy(tdb.database.db, tenant.id, { mode: 'open', allowedDomains: ['brand.example'] });
    await saveBranding(tdb.database.db, tenant.id, { displayName: 'Brand & Co', logoUrl: null, primaryColour: '#ffcc00', backgroundColour: '#102030' });
    ({ secret } = (await makeClient(tdb.database.db, tenant, { client_id: 'app', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], scope: 'openid email', first_party: true })) as { secret: string });
    await mkdir(SHOTS, { recursive: true });
    browser = await launchChromium();
    // No JavaScript at all: the pages must work as plain HTML forms.
    page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    await tdb?.drop();
    callback?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it('signs up through labelled fields, refusing a breached password on the way', async () => {
    await page.goto(`${h.baseUrl}/auth/brand/signup`);
    assert.equal(await page.title(), 'Create your account for Brand & Co');
    await shot('1-signup');
    await page.getByLabel('E-mail address').fill('nina@brand.example');
    await page.getByLabel('Your name (optional)').fill('Nina');
    await page.getByLabel('Password').fill('password1234');
    await page.getByRole('button', { name: 'Create account' }).click();
    assert.match((await page.getByRole('alert').textContent())!, /data breaches/);
    await shot('2-signup-breached');
    await page.getByLabel('Password').fill('nina-has-a-long-one');
    await page.getByRole('button', { name: 'Create account' }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Check your inbox');
    await shot('3-check-inbox');
  });

  it('confirms the address from the mailed link with one button', async () => {
    const [mail] = await tdb.database.query<{ data: { template: string; variables: { link: string } } }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.mail.requested'`);
    assert.equal(mail!.data.template, 'verify-email');
    await page.goto(mail!.data.variables.link);
    await shot('4-confirm');
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'E-mail address confirmed');
    await shot('5-confirmed');
  });

  it('signs the new user in, whose UserInfo says the address is verified', async () => {
    await page.goto(`${h.baseUrl}/auth/brand/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256' }));
    await page.fill('#username', 'nina@brand.example');
    await page.fill('#password', 'nina-has-a-long-one');
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(REDIRECT)), page.click('button[type=submit]')]);
    const code = new URL(page.url()).searchParams.get('code')!;
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const res = await h.fetch('/auth/brand/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('app', secret) } });
    assert.equal(res.status, 200);
    const tokens = (await res.json()) as { id_token: string; access_token: string };
    const sub = decodeJwt(tokens.id_token).sub;
    const info = await h.fetch('/auth/brand/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(info.status, 200);
    assert.deepEqual(await info.json(), { sub, email: 'nina@brand.example', email_verified: true });
  });
});
