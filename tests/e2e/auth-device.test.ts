// The device authorization grant (RFC 8628) over real HTTP: openid-client as the device, the
// verification page driven as a browser, raw requests for each error of §3.5 and the §5.1 limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { DEVICE_CODE_GRANT } from '#functions/auth/core/grant-types';
import type { Tenant, User } from '#functions/auth/core/schema';

const insecure = { execute: [oidc.allowInsecureRequests] };
/** RFC 8628 §6.1: 8 characters of the base-20 alphabet, shown with a dash. */
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

interface DeviceResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

describe('ZenoAuth device authorization grant (RFC 8628)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let issuer: string;
  let acme: Tenant;
  let alice: User;
  let tv: oidc.Configuration;
  let secret: string;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    acme = await makeTenant(tdb.database.db, 'acme');
    alice = await makeUser(tdb.database.db, acme, { username: 'alice', password: 'wonderland-42' });
    issuer = `${h.baseUrl}/auth/acme`;
    // A public client (a CLI) and a first-party one: the user still confirms the code (§5.4).
    await makeClient(tdb.database.db, acme, { client_id: 'tv', token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], scope: 'openid profile offline_access', first_party: true });
    ({ secret } = (await makeClient(tdb.database.db, acme, { client_id: 'console', grant_types: [DEVICE_CODE_GRANT], scope: 'openid' })) as { secret: string });
    await makeClient(tdb.database.db, acme, { client_id: 'web', redirect_uris: ['https://app.example/cb'], scope: 'openid' });
    tv = await oidc.discovery(new URL(issuer), 'tv', undefined, oidc.None(), insecure);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${issuer}/${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
  const authorizeDevice = async (clientId = 'tv', scope = 'openid') => {
    const res = clientId === 'console' ? await post('device_authorization', { scope }, { authorization: basicAuth('console', secret) }) : await post('device_authorization', { client_id: clientId, scope });
    assert.equal(res.status, 200);
    return (await res.json()) as DeviceResponse;
  };
  const poll = async (deviceCode: string, clientId = 'tv') => {
    const res = clientId === 'console'
      ? await post('token', { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode }, { authorization: basicAuth('console', secret) })
      : await post('token', { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: clientId });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, cache: res.headers.get('cache-control') };
  };
  /** Lets the next poll count as on time, whatever the clock did since the last one. */
  const forgetLastPoll = (deviceCode: string) => tdb.database.db.execute(sql`update auth.device_codes set last_polled_at = null where device_code_hash = encode(sha256(convert_to(${deviceCode}, 'UTF8')), 'hex')`);

  /** Opens `url` (the complete verification URI or the bare one), enters the code, signs in and decides. */
  async function verify(browser: Browser, url: string, userCode: string | undefined, decision: 'allow' | 'deny'): Promise<string> {
    let res = await browser.fetch(url);
    assert.equal(res.status, 200);
    let html = await res.text();
    // From verification_uri_complete the field comes filled in (§3.3.1); the user only submits it.
    const prefilled = /name="user_code"[^>]*value="([^"]*)"/.exec(html)?.[1];
    if (!userCode) assert.match(prefilled ?? '', USER_CODE);
    res = await browser.submit(html, { user_code: userCode ?? prefilled! }, /\/device$/);
    html = await res.text();
    assert.equal(res.status, 200, html);
    if (html.includes('name="password"')) {
      res = await browser.submit(html, { username: 'alice', password: 'wonderland-42' }, /\/login$/);
      html = await res.text();
    }
    assert.match(html, /name="decision"/);
    res = await browser.submit(html, { decision }, /\/device\/confirm$/);
    assert.equal(res.status, 200);
    return html;
  }

  it('advertises the device authorization endpoint and grant type in discovery (§4)', () => {
    const meta = tv.serverMetadata();
    assert.equal(meta.device_authorization_endpoint, `${issuer}/device_authorization`);
    assert.ok(meta.grant_types_supported?.includes(DEVICE_CODE_GRANT));
  });

  it('runs the whole flow with openid-client: user code, verification_uri_complete, sign-in, confirmation, tokens (§3.1-§3.5)', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile offline_access' });
    assert.match(started.user_code, USER_CODE);
    assert.equal(started.verification_uri, `${issuer}/device`);
    assert.equal(started.verification_uri_complete, `${issuer}/device?user_code=${started.user_code}`);
    assert.equal(started.interval, 5);
    assert.equal(started.expires_in, 600);
    // The device polls from the start; the first answers are authorization_pending (§3.5).
    const polling = oidc.pollDeviceAuthorizationGrant(tv, started);
    const confirm = await verify(new Browser(), started.verification_uri_complete!, undefined, 'allow');
    // §5.4: the confirmation shows the code the device displays, even for a first-party client.
    assert.ok(confirm.includes(started.user_code));
    const tokens = await polling;
    assert.equal(tokens.token_type, 'bearer');
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, typ: 'at+jwt' });
    assert.equal(payload.sub, alice.id);
    assert.equal(payload.client_id, 'tv');
    assert.ok(tokens.id_token);
    const refreshed = await oidc.refreshTokenGrant(tv, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
    // §3.5 / RFC 6749 §5.2: the device code is redeemed once.
    const again = await poll(started.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  it('accepts the user code typed in lower case with spaces instead of the dash (§6.1)', async () => {
    const d = await authorizeDevice('console');
    const typed = ` ${d.user_code.replace('-', ' ').toLowerCase()} `;
    await verify(new Browser(), d.verification_uri, typed, 'allow');
    const r = await poll(d.device_code, 'console');
    assert.equal(r.status, 200);
    assert.equal(typeof r.body.access_token, 'string');
  });

  it('answers authorization_pending, then slow_down with the interval raised by 5 seconds (§3.5)', async () => {
    const d = await authorizeDevice();
    const first = await poll(d.device_code);
    assert.equal(first.status, 400);
    assert.equal(first.body.error, 'authorization_pending');
    assert.equal(first.cache, 'no-store');
    // A poll inside the interval is too fast whatever the clock says: the interval is made long.
    await tdb.database.db.execute(sql`update auth.device_codes set interval_seconds = 600, last_polled_at = now() where device_code_hash = encode(sha256(convert_to(${d.device_code}, 'UTF8')), 'hex')`);
    const fast = await poll(d.device_code);
    assert.equal(fast.body.error, 'slow_down');
    const [row] = await tdb.database.query<{ interval_seconds: number }>(sql`select interval_seconds from auth.device_codes where device_code_hash = encode(sha256(convert_to(${d.device_code}, 'UTF8')), 'hex')`);
    assert.equal(row!.interval_seconds, 605);
    await forgetLastPoll(d.device_code);
    assert.equal((await poll(d.device_code)).body.error, 'authorization_pending');
  });

  it('answers access_denied when the user denies the request (§3.5)', async () => {
    const d = await authorizeDevice();
    await verify(new Browser(), d.verification_uri_complete, undefined, 'deny');
    const r = await poll(d.device_code);
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'access_denied');
  });

  it('answers expired_token once the device code expired, and refuses the code at the page (§3.5, §3.2 expires_in)', async () => {
    const d = await authorizeDevice();
    await tdb.database.db.execute(sql`update auth.device_codes set expires_at = now() - interval '1 second' where device_code_hash = encode(sha256(convert_to(${d.device_code}, 'UTF8')), 'hex')`);
    assert.equal((await poll(d.device_code)).body.error, 'expired_token');
    const browser = new Browser(undefined, { 'x-forwarded-for': '192.0.2.50' });
    const page = await (await browser.fetch(d.verification_uri)).text();
    const res = await browser.submit(page, { user_code: d.user_code }, /\/device$/);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not valid or has expired/);
  });

  it('refuses a device code presented by another client, an unknown code and a malformed request with invalid_grant or invalid_request (§3.4, RFC 6749 §5.2)', async () => {
    const d = await authorizeDevice();
    assert.equal((await poll(d.device_code, 'console')).body.error, 'invalid_grant');
    assert.equal((await poll('no-such-code')).body.error, 'invalid_grant');
    const missing = await post('token', { grant_type: DEVICE_CODE_GRANT, client_id: 'tv' });
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { error: string }).error, 'invalid_request');
    assert.equal((await poll('x'.repeat(5000))).body.error, 'invalid_request');
    // The web client is not registered for the grant.
    const web = await post('token', { grant_type: DEVICE_CODE_GRANT, device_code: d.device_code, client_id: 'web' });
    assert.equal(web.status, 401);
  });

  it('answers bad device authorization requests with OAuth errors, never a 500 (§3.1, §3.2)', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [post('device_authorization', { scope: 'openid' }), 401, 'invalid_client'],
      [post('device_authorization', { client_id: 'tv', scope: 'admin' }), 400, 'invalid_scope'],
      [post('device_authorization', { client_id: 'tv', resource: 'not a uri' }), 400, 'invalid_target'],
      [post('device_authorization', { client_id: 'tv', scope: 'x'.repeat(3000) }), 400, 'invalid_scope'],
      [fetch(`${issuer}/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client_id":"tv"}' }), 400, 'invalid_request'],
      [fetch(`${issuer}/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=tv&client_id=tv' }), 400, 'invalid_request'],
      [fetch(`${issuer}/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=tv&scope=a%00b' }), 400, 'invalid_request'],
      [fetch(`${h.baseUrl}/auth/nowhere/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=tv' }), 404, 'invalid_request'],
    ];
    for (const [pending, status, error] of cases) {
      const res = await pending;
      assert.equal(res.status, status);
      assert.equal(((await res.json()) as { error: string }).error, error);
    }
    const web = await post('device_authorization', { client_id: 'web' });
    assert.equal(((await web.json()) as { error: string }).error, 'invalid_client');
    await makeClient(tdb.database.db, acme, { client_id: 'spa', redirect_uris: ['https://app.example/cb'], grant_types: ['authorization_code'], scope: 'openid', token_endpoint_auth_method: 'none' });
    const unauthorized = await post('device_authorization', { client_id: 'spa' });
    assert.equal(((await unauthorized.json()) as { error: string }).error, 'unauthorized_client');
  });

  it('slows user-code guessing from one address, even for the right code (§5.1)', async () => {
    const d = await authorizeDevice();
    const browser = new Browser(undefined, { 'x-forwarded-for': '192.0.2.77' });
    const page = await (await browser.fetch(d.verification_uri)).text();
    for (let i = 0; i < 5; i++) {
      const res = await browser.submit(page, { user_code: 'BBBB-BBBB' }, /\/device$/);
      assert.equal(res.status, 400);
    }
    const limited = await browser.submit(page, { user_code: d.user_code }, /\/device$/);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    // Another address is not held back by this one.
    await verify(new Browser(undefined, { 'x-forwarded-for': '192.0.2.78' }), d.verification_uri_complete, undefined, 'allow');
    await forgetLastPoll(d.device_code);
    assert.equal((await poll(d.device_code)).status, 200);
  });

  it('refuses a code form without its CSRF token and a device confirmation posted to the consent endpoint', async () => {
    const d = await authorizeDevice();
    const browser = new Browser();
    await browser.fetch(d.verification_uri);
    const forged = await browser.fetch(`${issuer}/device`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user_code=${d.user_code}&csrf=nope` });
    assert.equal(forged.status, 400);
    const json = await browser.fetch(`${issuer}/device`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
    let res = await browser.submit(await (await browser.fetch(d.verification_uri_complete)).text(), { user_code: d.user_code }, /\/device$/);
    res = await browser.submit(await res.text(), { username: 'alice', password: 'wonderland-42' }, /\/login$/);
    const confirm = await res.text();
    const sideways = await browser.submit(confirm.replace('/device/confirm', '/consent'), { decision: 'allow' }, /\/consent$/);
    assert.equal(sideways.status, 400);
    await forgetLastPoll(d.device_code);
    assert.equal((await poll(d.device_code)).body.error, 'authorization_pending');
  });
});
