// Negative end-to-end tests modelled on the OpenID Foundation Basic and Config OP test plans,
// plus cross-tenant use of every credential. Real HTTP; every failure has its protocol shape.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { LOGIN_THROTTLE } from '#functions/auth/core/throttle';

const CB = 'http://localhost:9/cb';
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('negative paths (OIDF Basic/Config OP plans) and tenant isolation', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let acmeSecret: string;
  let betaSecret: string;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const db = tdb.database.db;
    const acme = await makeTenant(db, 'acme');
    const beta = await makeTenant(db, 'beta');
    await makeUser(db, acme, { username: 'alice', password: 'wonderland-42', email: 'alice@acme.example' });
    await makeUser(db, acme, { username: 'mallory', password: 'correct-password' });
    await makeUser(db, beta, { username: 'bob', password: 'builder-42' });
    const meta = { client_id: 'rp', redirect_uris: [CB], grant_types: ['authorization_code', 'refresh_token'] as ('authorization_code' | 'refresh_token')[], scope: 'openid profile email', first_party: true, post_logout_redirect_uris: ['http://localhost:9/bye'] };
    acmeSecret = (await makeClient(db, acme, meta)).secret!;
    betaSecret = (await makeClient(db, beta, meta)).secret!;
    await makeClient(db, acme, { client_id: 'spa', redirect_uris: [CB], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope: 'openid', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const iss = (t: string) => `${h.baseUrl}/auth/${t}`;
  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };
  const authorizeUrl = (tenant: string, params: Record<string, string>) => `${iss(tenant)}/authorize?${new URLSearchParams(params)}`;
  const codeParams = (challenge: string, extra: Record<string, string> = {}) => ({ client_id: 'rp', redirect_uri: CB, response_type: 'code', scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256', state: 's1', ...extra });
  const post = (url: string, body: Record<string, string>, auth?: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) }, body: new URLSearchParams(body).toString() });
  const tokenReq = (tenant: string, body: Record<string, string>, secret = tenant === 'beta' ? betaSecret : acmeSecret) => post(`${iss(tenant)}/token`, body, basicAuth('rp', secret));

  async function login(browser: Browser, tenant: string, url: string, username = 'alice', password = 'wonderland-42'): Promise<Response> {
    const page = await browser.fetch(url);
    assert.equal(page.status, 200);
    return browser.submit(await page.text(), { username, password }, /\/login$/);
  }
  async function code(browser: Browser, challenge: string, extra: Record<string, string> = {}): Promise<string> {
    const url = authorizeUrl('acme', codeParams(challenge, extra));
    const first = await browser.fetch(url);
    const res = first.status === 303 ? first : await browser.submit(await first.text(), { username: 'alice', password: 'wonderland-42' }, /\/login$/);
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('iss'), iss('acme'));
    return loc.searchParams.get('code')!;
  }
  async function assertOAuthError(res: Response, error: string, status?: number) {
    if (status) assert.equal(res.status, status);
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as { error: string; error_description: string };
    assert.equal(body.error, error);
    assert.equal(typeof body.error_description, 'string');
  }

  describe('authorization endpoint (RFC 6749 §4.1.2.1, RFC 9207)', () => {
    it('shows a page, never a redirect, for an unregistered redirect_uri or an unknown client', async () => {
      for (const params of [
        { client_id: 'rp', redirect_uri: 'http://localhost:9/cb/evil', response_type: 'code' },
        { client_id: 'rp', redirect_uri: 'http://localhost:9/CB', response_type: 'code' },
        { client_id: 'ghost', redirect_uri: CB, response_type: 'code' },
        { redirect_uri: CB, response_type: 'code' },
      ] as Record<string, string>[]) {
        const res = await fetch(authorizeUrl('acme', params), { redirect: 'manual' });
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('location'), null);
        assert.match(res.headers.get('content-type')!, /text\/html/);
        const html = await res.text();
        assert.doesNotMatch(html, /at |Error:|stack|drizzle|postgres/i);
      }
    });

    it('redirects missing or unsupported response_type, plain PKCE, public clients without PKCE, with state and iss', async () => {
      const { challenge } = pkce();
      const cases: [Record<string, string>, string][] = [
        [{ client_id: 'rp', redirect_uri: CB, state: 'x' }, 'invalid_request'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'token', state: 'x' }, 'unsupported_response_type'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'id_token', state: 'x' }, 'unsupported_response_type'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', code_challenge: challenge, code_challenge_method: 'plain', state: 'x' }, 'invalid_request'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', code_challenge: challenge, state: 'x' }, 'invalid_request'],
        [{ client_id: 'spa', redirect_uri: CB, response_type: 'code', scope: 'openid', state: 'x' }, 'invalid_request'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', scope: 'openid admin', state: 'x' }, 'invalid_scope'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', prompt: 'none login', state: 'x' }, 'invalid_request'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', max_age: '-1', state: 'x' }, 'invalid_request'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', resource: 'relative/path', state: 'x' }, 'invalid_target'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', authorization_details: '[{"type":"payment"}]', state: 'x' }, 'invalid_authorization_details'],
        [{ client_id: 'rp', redirect_uri: CB, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', prompt: 'none', state: 'x' }, 'login_required'],
      ];
      for (const [params, error] of cases) {
        const res = await fetch(authorizeUrl('acme', params), { redirect: 'manual' });
        assert.equal(res.status, 303, `${error}: ${res.status}`);
        const loc = new URL(res.headers.get('location')!);
        assert.equal(loc.origin + loc.pathname, CB);
        assert.equal(loc.searchParams.get('error'), error, JSON.stringify(params));
        assert.equal(loc.searchParams.get('state'), 'x');
        assert.equal(loc.searchParams.get('iss'), iss('acme'));
      }
      // RFC 9101 §6.2: a request object that does not verify is refused before its redirect URI is trusted: a page, no redirect.
      const bad = await fetch(authorizeUrl('acme', { client_id: 'rp', redirect_uri: CB, response_type: 'code', request: 'eyJ.e30.', state: 'x' }), { redirect: 'manual' });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('location'), null);
    });

    it('forces a new sign-in for max_age=0 and prompt=login even with a session', async () => {
      const browser = new Browser();
      const { challenge } = pkce();
      await code(browser, challenge);
      for (const extra of [{ max_age: '0' }, { prompt: 'login' }] as Record<string, string>[]) {
        const res = await browser.fetch(authorizeUrl('acme', codeParams(challenge, extra)));
        assert.equal(res.status, 200);
        assert.match(await res.text(), /name="password"/);
      }
    });

    it('refuses a sign-in form with a wrong CSRF token or from another browser', async () => {
      const browser = new Browser();
      const { challenge } = pkce();
      const page = await (await browser.fetch(authorizeUrl('acme', codeParams(challenge)))).text();
      const forged = await browser.submit(page, { username: 'alice', password: 'wonderland-42', csrf: 'forged' }, /\/login$/);
      assert.equal(forged.status, 400);
      const stranger = new Browser();
      const other = await stranger.submit(page, { username: 'alice', password: 'wonderland-42' }, /\/login$/);
      assert.equal(other.status, 400);
    });

    it('throttles repeated failed sign-ins to one account from one address with a clear message', async () => {
      const browser = new Browser();
      const { challenge } = pkce();
      for (let i = 0; i < LOGIN_THROTTLE.freePerPair; i++) {
        const res = await login(browser, 'acme', authorizeUrl('acme', codeParams(challenge)), 'mallory', 'wrong-password');
        assert.equal(res.status, 401);
        assert.match(await res.text(), /Incorrect username or password/);
      }
      const blocked = await login(browser, 'acme', authorizeUrl('acme', codeParams(challenge)), 'mallory', 'correct-password');
      assert.equal(blocked.status, 429);
      assert.match(await blocked.text(), /Too many failed sign-in attempts/);
      const audit = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'login' and outcome = 'failure' and actor = 'mallory'`);
      assert.equal(audit[0]!.n, LOGIN_THROTTLE.freePerPair);
    });
  });

  describe('token endpoint (RFC 6749 §5.2, RFC 7636)', () => {
    it('refuses a reused code and revokes the tokens it issued', async () => {
      const { verifier, challenge } = pkce();
      const c = await code(new Browser(), challenge);
      const first = await tokenReq('acme', { grant_type: 'authorization_code', code: c, redirect_uri: CB, code_verifier: verifier });
      assert.equal(first.status, 200);
      const tokens = (await first.json()) as { access_token: string; refresh_token: string };
      await assertOAuthError(await tokenReq('acme', { grant_type: 'authorization_code', code: c, redirect_uri: CB, code_verifier: verifier }), 'invalid_grant', 400);
      const intro = await post(`${iss('acme')}/introspect`, { token: tokens.access_token }, basicAuth('rp', acmeSecret));
      assert.deepEqual(await intro.json(), { active: false });
      await assertOAuthError(await tokenReq('acme', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }), 'invalid_grant');
      const ev = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.outbox where type = 'io.zenokube.auth.code.reused'`);
      assert.equal(ev[0]!.n, 1);
    });

    it('refuses a PKCE mismatch, a missing verifier, a wrong redirect_uri and an expired code', async () => {
      const browser = new Browser();
      const { verifier, challenge } = pkce();
      const wrong = pkce().verifier;
      await assertOAuthError(await tokenReq('acme', { grant_type: 'authorization_code', code: await code(browser, challenge), redirect_uri: CB, code_verifier: wrong }), 'invalid_grant');
      await assertOAuthError(await tokenReq('acme', { grant_type: 'authorization_code', code: await code(browser, challenge), redirect_uri: CB }), 'invalid_grant');
      await assertOAuthError(await tokenReq('acme', { grant_type: 'authorization_code', code: await code(browser, challenge), redirect_uri: 'http://localhost:9/other', code_verifier: verifier }), 'invalid_grant');
      const late = await code(browser, challenge);
      await tdb.database.query(sql`update auth.authorization_codes set expires_at = now() - interval '1 second' where code_hash = ${createHash('sha256').update(late).digest('hex')}`);
      await assertOAuthError(await tokenReq('acme', { grant_type: 'authorization_code', code: late, redirect_uri: CB, code_verifier: verifier }), 'invalid_grant');
    });

    it('returns the nonce it was given, and none when none was sent', async () => {
      const browser = new Browser();
      const { verifier, challenge } = pkce();
      const withNonce = await tokenReq('acme', { grant_type: 'authorization_code', code: await code(browser, challenge, { nonce: 'n-0S6_WzA2Mj' }), redirect_uri: CB, code_verifier: verifier });
      assert.equal(decodeJwt(((await withNonce.json()) as { id_token: string }).id_token).nonce, 'n-0S6_WzA2Mj');
      const without = await tokenReq('acme', { grant_type: 'authorization_code', code: await code(browser, challenge), redirect_uri: CB, code_verifier: verifier });
      assert.equal(decodeJwt(((await without.json()) as { id_token: string }).id_token).nonce, undefined);
    });

    it('answers wrong client authentication with invalid_client', async () => {
      await assertOAuthError(await tokenReq('acme', { grant_type: 'refresh_token', refresh_token: 'x' }, 'wrong'), 'invalid_client', 401);
      await assertOAuthError(await post(`${iss('acme')}/token`, { grant_type: 'authorization_code', code: 'x', client_id: 'spa', client_secret: 'anything' }), 'invalid_client', 401);
      await assertOAuthError(await post(`${iss('acme')}/token`, { grant_type: 'authorization_code', code: 'x' }), 'invalid_client', 401);
      await assertOAuthError(await post(`${iss('acme')}/token`, { grant_type: 'client_credentials', client_id: 'spa' }), 'unauthorized_client');
    });

    it('never answers garbage with a 500', async () => {
      const bodies = ['', '%%%', 'grant_type', 'grant_type=authorization_code&code=' + 'x'.repeat(5000), 'a=1&a=2', '\u0000\u0001', 'grant_type=refresh_token&refresh_token=%00', 'grant_type=client_credentials&scope=%22%5C'];
      for (const path of ['token', 'introspect', 'revoke', 'par']) {
        for (const body of bodies) {
          for (const auth of [basicAuth('rp', acmeSecret), 'Basic !!!', 'Bearer x', undefined]) {
            const res = await fetch(`${iss('acme')}/${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) }, body });
            assert.ok(res.status < 500, `${path} ${JSON.stringify(body).slice(0, 40)} -> ${res.status}`);
            if (res.status >= 400) assert.equal(typeof ((await res.json()) as { error: string }).error, 'string');
            else await res.arrayBuffer();
          }
        }
      }
      for (const q of ['', '?client_id=%00', '?client_id=rp&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fcb&response_type=code&state=%00', '?client_id=rp&redirect_uri=%FF', '?' + 'a=1&'.repeat(500)]) {
        const res = await fetch(`${iss('acme')}/authorize${q}`, { redirect: 'manual' });
        assert.ok(res.status < 500, `authorize ${q.slice(0, 30)} -> ${res.status}`);
      }
      const nul = await post(`${iss('acme')}/token`, { grant_type: 'client_credentials', client_id: '\u0000' });
      await assertOAuthError(nul, 'invalid_request');
      const reg = await fetch(`${iss('acme')}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{' });
      assert.equal(reg.status, 401);
    });
  });

  describe('forged tokens (alg none, HS256 keyed with the public key)', () => {
    it('rejects them at UserInfo, introspection and as id_token_hint', async () => {
      const jwks = (await (await fetch(`${iss('acme')}/jwks`)).json()) as { keys: { kid: string; alg: string; x?: string; n?: string }[] };
      const ed = jwks.keys.find((k) => k.alg === 'EdDSA')!;
      const rs = jwks.keys.find((k) => k.alg === 'RS256')!;
      const now = Math.floor(Date.now() / 1000);
      const users = await tdb.database.query<{ id: string }>(sql`select id from auth.users where username = 'alice'`);
      const claims = { iss: iss('acme'), sub: users[0]!.id, aud: iss('acme'), client_id: 'rp', scope: 'openid email', exp: now + 600, iat: now, jti: 'forged' };
      const none = `${b64({ alg: 'none', typ: 'at+jwt', kid: ed.kid })}.${b64(claims)}.`;
      const hsEd = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: ed.kid }).sign(Buffer.from(JSON.stringify(ed)));
      const hsRs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: rs.kid }).sign(Buffer.from(rs.n!, 'base64url'));
      for (const forged of [none, hsEd, hsRs]) {
        const ui = await fetch(`${iss('acme')}/userinfo`, { headers: { authorization: `Bearer ${forged}` } });
        assert.equal(ui.status, 401);
        assert.match(ui.headers.get('www-authenticate')!, /invalid_token/);
        const intro = await post(`${iss('acme')}/introspect`, { token: forged }, basicAuth('rp', acmeSecret));
        assert.deepEqual(await intro.json(), { active: false });
        const logout = await fetch(`${iss('acme')}/logout?id_token_hint=${forged}&post_logout_redirect_uri=http://localhost:9/bye`, { redirect: 'manual' });
        assert.equal(logout.status, 400);
        assert.equal(logout.headers.get('location'), null);
      }
    });
  });

  describe('cross-tenant use (nothing crosses tenants)', () => {
    it('refuses acme tokens, codes, refresh tokens, sessions and request_uris at beta', async () => {
      const browser = new Browser();
      const { verifier, challenge } = pkce();
      const res = await tokenReq('acme', { grant_type: 'authorization_code', code: await code(browser, challenge), redirect_uri: CB, code_verifier: verifier });
      const tokens = (await res.json()) as { access_token: string; refresh_token: string; id_token: string };
      // Access token at beta's UserInfo and introspection.
      assert.equal((await fetch(`${iss('beta')}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 401);
      assert.equal((await fetch(`${iss('acme')}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200);
      assert.deepEqual(await (await post(`${iss('beta')}/introspect`, { token: tokens.access_token }, basicAuth('rp', betaSecret))).json(), { active: false });
      assert.deepEqual(await (await post(`${iss('beta')}/introspect`, { token: tokens.refresh_token }, basicAuth('rp', betaSecret))).json(), { active: false });
      // Refresh token and code at beta's token endpoint, with beta's client of the same client_id.
      await assertOAuthError(await tokenReq('beta', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }), 'invalid_grant');
      await assertOAuthError(await tokenReq('beta', { grant_type: 'authorization_code', code: await code(browser, challenge), redirect_uri: CB, code_verifier: verifier }), 'invalid_grant');
      // acme's client secret does not authenticate beta's client of the same id.
      await assertOAuthError(await tokenReq('beta', { grant_type: 'refresh_token', refresh_token: 'x' }, acmeSecret), 'invalid_client', 401);
      // Revocation at beta has no effect on acme's token.
      await post(`${iss('beta')}/revoke`, { token: tokens.access_token }, basicAuth('rp', betaSecret));
      assert.equal(((await (await post(`${iss('acme')}/introspect`, { token: tokens.access_token }, basicAuth('rp', acmeSecret))).json()) as { active: boolean }).active, true);
      // The acme session cookie, replayed at beta, is no session there.
      const cookie = browser.cookieHeader();
      const betaPage = await fetch(authorizeUrl('beta', codeParams(challenge, { prompt: 'none' })), { headers: { cookie }, redirect: 'manual' });
      assert.equal(new URL(betaPage.headers.get('location')!).searchParams.get('error'), 'login_required');
      // acme's user cannot sign in at beta.
      const signIn = await login(new Browser(), 'beta', authorizeUrl('beta', codeParams(challenge)), 'alice', 'wonderland-42');
      assert.equal(signIn.status, 401);
      // An access token is no id_token_hint, even in its own tenant.
      assert.equal((await fetch(`${iss('acme')}/logout?id_token_hint=${tokens.access_token}`, { redirect: 'manual' })).status, 400);
      // acme's ID token is no id_token_hint at beta.
      assert.equal((await fetch(`${iss('beta')}/logout?id_token_hint=${tokens.id_token}`, { redirect: 'manual' })).status, 400);
      // A request_uri pushed at acme is unknown at beta.
      const par = await post(`${iss('acme')}/par`, { ...codeParams(challenge) }, basicAuth('rp', acmeSecret));
      assert.equal(par.status, 201);
      const { request_uri } = (await par.json()) as { request_uri: string };
      const used = await fetch(authorizeUrl('beta', { client_id: 'rp', request_uri }), { redirect: 'manual' });
      assert.equal(used.status, 400);
      assert.equal(used.headers.get('location'), null);
      // Unknown tenant.
      assert.equal((await fetch(`${h.baseUrl}/auth/nope/jwks`)).status, 404);
      await assertOAuthError(await post(`${h.baseUrl}/auth/nope/token`, { grant_type: 'client_credentials' }), 'invalid_request', 404);
    });
  });
});
