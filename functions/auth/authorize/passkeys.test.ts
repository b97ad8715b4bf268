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
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { launchChromium, pageWithAuthenticator, type VirtualAuthenticator } from '../testing/chromium.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { saveWebauthnSettings } from '../core/webauthn-settings.js';
import type { Tenant } from '../core/schema.js';

/** Screenshots of each page, for a reader to look at (ignored by git). */
const SHOTS = join('test-output', 'auth-passkeys');

describe('passkeys (W3C WebAuthn Level 3 §7) in Chromium with a virtual authenticator', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let secret: string;
  let browser: Browser;
  let tess: VirtualAuthenticator;
  let issuer: string;
  /** The client's redirect URI: a real listener on the loopback that answers every request. */
  let callback: Server;
  let REDIRECT: string;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');

  before(async () => {
    callback = createServer((_req, res) => res.end('callback'));
    await new Promise<void>((r) => callback.listen(0, '127.0.0.1', r));
    REDIRECT = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/cb`;
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    tenant = await makeTenant(tdb.database.db, 'pk');
    issuer = `${h.baseUrl}/auth/pk`;
    ({ secret } = (await makeClient(tdb.database.db, tenant, { client_id: 'app', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], scope: 'openid', first_party: true })) as { secret: string });
    await makeUser(tdb.database.db, tenant, { username: 'tess', password: 'tess-password-1' });
    await makeUser(tdb.database.db, tenant, { username: 'mallory', password: 'mallory-password-1' });
    await mkdir(SHOTS, { recursive: true });
    browser = await launchChromium();
    tess = await withCallback(await pageWithAuthenticator(browser, { userAgent: 'Tess/1.0' }));
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    await tdb?.drop();
    callback?.close();
  });

  /** The client's redirect URI answers in the page, so the code can be read from its URL. */
  async function withCallback(v: VirtualAuthenticator): Promise<VirtualAuthenticator> {
    return v;
  }

  const authorizeUrl = () => `${issuer}/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });

  async function redeem(url: string): Promise<Record<string, unknown>> {
    const code = new URL(url).searchParams.get('code');
    assert.ok(code, `a code at the redirect URI, got ${url}`);
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const res = await h.fetch('/auth/pk/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('app', secret) } });
    assert.equal(res.status, 200);
    return decodeJwt(((await res.json()) as { id_token: string }).id_token);
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  async function passwordSignIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(authorizeUrl());
    await page.fill('#username', username);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  }

  async function signOut(page: Page): Promise<void> {
    await page.goto(`${issuer}/logout`);
    // Signed in: a confirmation form; signed out already: the signed-out page.
    if (await page.locator('button[type=submit]').count()) await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').first().click()]);
  }

  async function addPasskey(page: Page, name: string): Promise<string> {
    await page.goto(`${issuer}/account/passkeys`);
    await page.fill('#passkey-name', name);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Add a passkey' }).click()]);
    return page.content();
  }

  /** Runs the usernameless ceremony but keeps the posted form instead of sending it. */
  async function captureAssertion(page: Page, button: string, start: () => Promise<void>): Promise<string> {
    let body = '';
    await page.route(`${issuer}/login/passkey`, async (route) => {
      body = route.request().postData() ?? '';
      await route.fulfill({ status: 204 });
    });
    await start();
    await page.getByRole('button', { name: button }).click();
    for (let i = 0; i < 200 && !body; i++) await new Promise((r) => setTimeout(r, 25));
    await page.unroute(`${issuer}/login/passkey`);
    assert.ok(body, 'the page posted an assertion');
    return body;
  }

  /** Posts a captured form from outside the page, with the page's cookies. */
  async function post(v: VirtualAuthenticator, path: string, body: string): Promise<Response> {
    const cookies = (await v.context.cookies(`${issuer}/`)).map((c) => `${c.name}=${c.value}`).join('; ');
    return h.fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies }, body });
  }

  async function lastFailure(): Promise<string | undefined> {
    const [row] = await tdb.database.query<{ reason: string }>(sql`select detail->>'reason' as reason from auth.audit where action = 'login.passkey' and outcome = 'failure' order by id desc limit 1`);
    return row?.reason;
  }

  it('registers a passkey from the account page after a password sign-in, with recovery codes once', async () => {
    const { page } = tess;
    await passwordSignIn(page, 'tess', 'tess-password-1');
    assert.deepEqual((await redeem(page.url())).amr, ['pwd']);
    await page.goto(`${issuer}/account/passkeys`);
    await shot(page, 'account-empty');
    const html = await addPasskey(page, 'Tess laptop');
    await shot(page, 'account-added');
    assert.match(html, /The passkey “Tess laptop” was added/);
    assert.equal([...html.matchAll(/<code>([A-Z2-7]{5}-[A-Z2-7]{5})<\/code>/g)].length, 10, 'ten recovery codes with the first second factor');
    const rows = await tdb.database.query<{ device_type: string; counter: number; aaguid: string; mac: string }>(sql`select device_type, counter::int as counter, aaguid, mac from auth.webauthn_credentials`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.device_type, 'singleDevice');
    assert.match(rows[0]!.mac, /^[0-9a-f]{64}$/);
    const { credentials } = await tess.cdp.send('WebAuthn.getCredentials', { authenticatorId: tess.authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential');
    // A second registration of the same authenticator is excluded by the browser (excludeCredentials).
    await page.goto(`${issuer}/account/passkeys`);
    assert.match(await page.content(), /Tess laptop/);
  });

  it('signs out, signs in without a username, and finishes the code flow with hwk and mfa in amr', async () => {
    const { page } = tess;
    await signOut(page);
    await page.goto(authorizeUrl());
    await shot(page, 'login');
    await Promise.all([page.waitForURL(/\/cb\?/), page.getByRole('button', { name: 'Sign in with a passkey' }).click()]);
    const claims = await redeem(page.url());
    assert.deepEqual(claims.amr, ['hwk', 'mfa']);
    assert.equal(claims.acr, 'urn:zenokube:acr:mfa');
    const [cred] = await tdb.database.query<{ counter: number; used: boolean }>(sql`select counter::int as counter, last_used_at is not null as used from auth.webauthn_credentials`);
    assert.ok(cred!.counter > 0 && cred!.used, 'the counter advanced');
  });

  it('asks a passkey as the second factor after the password: amr pwd, hwk, mfa', async () => {
    const { page } = tess;
    await signOut(page);
    await passwordSignIn(page, 'tess', 'tess-password-1');
    assert.match(await page.content(), /Use a passkey/);
    await shot(page, 'second-factor');
    await Promise.all([page.waitForURL(/\/cb\?/), page.getByRole('button', { name: 'Use a passkey' }).click()]);
    const claims = await redeem(page.url());
    assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
    assert.equal(claims.acr, 'urn:zenokube:acr:mfa');
  });

  it('refuses a replayed assertion: the challenge was spent by the first', async () => {
    await signOut(tess.page);
    const body = await captureAssertion(tess.page, 'Sign in with a passkey', () => tess.page.goto(authorizeUrl()).then(() => undefined));
    const first = await post(tess, '/auth/pk/login/passkey', body);
    assert.equal(first.status, 303);
    // The same form again: its interaction was spent with the sign-in.
    assert.equal((await post(tess, '/auth/pk/login/passkey', body)).status, 400);
    // The assertion moved into a fresh sign-in of the same browser: its challenge is gone.
    await tess.page.goto(authorizeUrl());
    const html = await tess.page.content();
    const moved = new URLSearchParams(body);
    moved.set('interaction', /name="interaction" value="([^"]+)"/.exec(html)![1]!);
    moved.set('csrf', /name="csrf" value="([^"]+)"/.exec(html)![1]!);
    const replay = await post(tess, '/auth/pk/login/passkey', moved.toString());
    assert.equal(replay.status, 401);
    assert.equal(await lastFailure(), 'challenge_unknown');
  });

  it('refuses an assertion from an origin or for an RP ID the tenant does not have', async () => {
    await signOut(tess.page);
    const wrongOrigin = await captureAssertion(tess.page, 'Sign in with a passkey', () => tess.page.goto(authorizeUrl()).then(() => undefined));
    await saveWebauthnSettings(tdb.database.db, tenant.id, { rpId: null, origins: ['https://app.localhost'], userVerification: 'preferred', attestation: 'none' });
    assert.equal((await post(tess, '/auth/pk/login/passkey', wrongOrigin)).status, 401);
    assert.equal(await lastFailure(), 'verification_failed');

    await saveWebauthnSettings(tdb.database.db, tenant.id, { rpId: null, origins: [], userVerification: 'preferred', attestation: 'none' });
    const wrongRp = await captureAssertion(tess.page, 'Sign in with a passkey', () => tess.page.goto(authorizeUrl()).then(() => undefined));
    await saveWebauthnSettings(tdb.database.db, tenant.id, { rpId: 'other.localhost', origins: [], userVerification: 'preferred', attestation: 'none' });
    assert.equal((await post(tess, '/auth/pk/login/passkey', wrongRp)).status, 401);
    assert.equal(await lastFailure(), 'verification_failed');
    await tdb.database.query(sql`delete from auth.webauthn_settings`);
  });

  it('refuses an expired challenge', async () => {
    const body = await captureAssertion(tess.page, 'Sign in with a passkey', () => tess.page.goto(authorizeUrl()).then(() => undefined));
    await tdb.database.query(sql`update auth.webauthn_challenges set expires_at = now() - interval '1 second'`);
    assert.equal((await post(tess, '/auth/pk/login/passkey', body)).status, 401);
    assert.equal(await lastFailure(), 'challenge_expired');
    const [left] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.webauthn_challenges where purpose = 'sign-in' and expires_at < now()`);
    assert.equal(left!.n, 0, 'the late answer deleted it');
  });

  it('refuses a signature counter that went backwards (a cloned authenticator)', async () => {
    await tdb.database.query(sql`update auth.webauthn_credentials set counter = 1000000`);
    await tess.page.goto(authorizeUrl());
    await Promise.all([tess.page.waitForNavigation(), tess.page.getByRole('button', { name: 'Sign in with a passkey' }).click()]);
    assert.match(await tess.page.content(), /may have been copied/);
    await shot(tess.page, 'counter-regression');
    assert.equal(await lastFailure(), 'counter_regression');
    await tdb.database.query(sql`update auth.webauthn_credentials set counter = 0`);
  });

  it("refuses another user's passkey as the second factor of a known password", async () => {
    const mallory = await withCallback(await pageWithAuthenticator(browser, { userAgent: 'Mallory/1.0' }));
    await passwordSignIn(mallory.page, 'mallory', 'mallory-password-1');
    assert.match(await addPasskey(mallory.page, 'Mallory key'), /was added/);
    await signOut(mallory.page);
    // Mallory knows Tess's password; her browser drops the allow list so her own passkey answers.
    await passwordSignIn(mallory.page, 'tess', 'tess-password-1');
    await mallory.page.route(`${issuer}/login/passkey/options`, async (route) => {
      const res = await route.fetch();
      const options = (await res.json()) as Record<string, unknown>;
      delete options.allowCredentials;
      await route.fulfill({ response: res, json: options });
    });
    await Promise.all([mallory.page.waitForNavigation(), mallory.page.getByRole('button', { name: 'Use a passkey' }).click()]);
    assert.equal(await lastFailure(), 'wrong_user');
    assert.doesNotMatch(mallory.page.url(), /\/cb\?/);
    await mallory.context.close();
  });

  it('answers malformed or unbound requests with a 4xx page, never a 500', async () => {
    await tess.page.goto(authorizeUrl());
    const html = await tess.page.content();
    const interaction = /name="interaction" value="([^"]+)"/.exec(html)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    for (const credential of ['', 'not json', '[]', '{"id":"x","rawId":"x","type":"public-key","response":{}}', JSON.stringify({ id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' } })]) {
      const res = await post(tess, '/auth/pk/login/passkey', new URLSearchParams({ interaction, csrf, mode: 'sign-in', credential }).toString());
      assert.equal(res.status, 401, credential);
      assert.equal(await lastFailure(), 'malformed_response');
    }
    assert.equal((await post(tess, '/auth/pk/login/passkey/options', new URLSearchParams({ interaction, csrf: 'wrong', mode: 'sign-in' }).toString())).status, 400);
    assert.equal((await post(tess, '/auth/pk/login/passkey/options', new URLSearchParams({ interaction, csrf, mode: 'other' }).toString())).status, 400);
    assert.equal((await post(tess, '/auth/pk/login/passkey/options', new URLSearchParams({ interaction, csrf, mode: 'second-factor' }).toString())).status, 400, 'no pending sign-in');
    const opts = await post(tess, '/auth/pk/login/passkey/options', new URLSearchParams({ interaction, csrf, mode: 'sign-in' }).toString());
    assert.equal(opts.status, 200);
    const o = (await opts.json()) as { rpId: string; userVerification: string; challenge: string };
    assert.equal(o.rpId, 'localhost');
    assert.equal(o.userVerification, 'required');
    assert.ok(Buffer.from(o.challenge, 'base64url').length >= 16);
  });

  it('lists and removes passkeys; another user cannot remove them', async () => {
    const { page } = tess;
    await page.goto(authorizeUrl());
    await Promise.all([page.waitForURL(/\/cb\?/), page.getByRole('button', { name: 'Sign in with a passkey' }).click()]);
    await page.goto(`${issuer}/account/passkeys`);
    const html = await page.content();
    const id = /name="passkey" value="([^"]+)"/.exec(html)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    assert.equal((await post(tess, '/auth/pk/account/passkeys', new URLSearchParams({ csrf: 'nope', op: 'remove', passkey: id }).toString())).status, 400);
    const [mallorysKey] = await tdb.database.query<{ id: string }>(sql`select k.id from auth.webauthn_credentials k join auth.users u on u.id = k.user_id where u.username = 'mallory'`);
    assert.equal((await post(tess, '/auth/pk/account/passkeys', new URLSearchParams({ csrf, op: 'remove', passkey: mallorysKey!.id }).toString())).status, 404);
    const removed = await post(tess, '/auth/pk/account/passkeys', new URLSearchParams({ csrf, op: 'remove', passkey: id }).toString());
    assert.equal(removed.status, 200);
    assert.match(await removed.text(), /was removed/);
    const [audited] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'mfa.passkey.removed'`);
    assert.equal(audited!.n, 1);
  });
});
