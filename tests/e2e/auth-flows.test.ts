// End-to-end over real HTTP with openid-client as the relying party, tokens checked with jose.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeTenant, makeUser } from '#functions/auth/testing/fixtures';

const CALLBACK = 'http://localhost:9/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

describe('ZenoAuth as an OpenID Provider for openid-client', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let issuer: string;
  let adminToken: string;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const acme = await makeTenant(tdb.database.db, 'acme');
    await makeUser(tdb.database.db, acme, { username: 'alice', email: 'alice@example.com', emailVerified: true, name: 'Alice Liddell', password: 'wonderland-42' });
    issuer = `${h.baseUrl}/auth/acme`;
    jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const res = await fetch(`${h.baseUrl}/auth/system/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('zeno-admin', h.adminSecret) },
      body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
    });
    assert.equal(res.status, 200);
    adminToken = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function register(metadata: Partial<oidc.ClientMetadata>, auth?: oidc.ClientAuth): Promise<oidc.Configuration> {
    return oidc.dynamicClientRegistration(new URL(issuer), { redirect_uris: [CALLBACK], ...metadata }, auth, { ...insecure, initialAccessToken: adminToken });
  }

  /** Drives the real sign-in (and consent) pages; returns the callback URL. */
  async function signIn(browser: Browser, url: URL, password = 'wonderland-42'): Promise<URL> {
    let res = await browser.fetch(url);
    let html = await res.text();
    if (res.status === 200 && html.includes('name="password"')) {
      assert.match(html, /name="csrf"/);
      res = await browser.submit(html, { username: 'alice', password }, /\/login$/);
      html = res.status === 200 ? await res.text() : '';
    }
    if (res.status === 200 && html.includes('name="decision"')) res = await browser.submit(html, { decision: 'allow' }, /\/consent$/);
    assert.equal(res.status, 303, `expected a redirect, got ${res.status}`);
    return new URL(res.headers.get('location')!);
  }

  it('serves discovery with iss-parameter support and registers a client dynamically (RFC 7591)', async () => {
    const config = await register({ client_name: 'RP', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email' });
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, issuer);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.ok(config.clientMetadata().client_secret);
    const rfc8414 = await fetch(`${h.baseUrl}/.well-known/oauth-authorization-server/auth/acme`);
    assert.equal(((await rfc8414.json()) as { issuer: string }).issuer, issuer);
  });

  it('reads, updates and deletes a registration with its registration access token (RFC 7592)', async () => {
    const res = await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ redirect_uris: [CALLBACK], client_name: 'Managed' }),
    });
    assert.equal(res.status, 201);
    const reg = (await res.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const auth = { authorization: `Bearer ${reg.registration_access_token}` };
    assert.equal(((await (await fetch(reg.registration_client_uri, { headers: auth })).json()) as { client_name: string }).client_name, 'Managed');
    const put = await fetch(reg.registration_client_uri, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: reg.client_id, redirect_uris: ['http://localhost:9/other'], client_name: 'Renamed' }),
    });
    assert.deepEqual(((await put.json()) as { redirect_uris: string[] }).redirect_uris, ['http://localhost:9/other']);
    assert.equal((await fetch(reg.registration_client_uri, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const notAdmin = await fetch(`${issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${reg.registration_access_token}` }, body: '{"redirect_uris":["https://x.example/cb"]}' });
    assert.equal(notAdmin.status, 401);
    const bad = await fetch(`${issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: '{"redirect_uris":["http://evil.example/cb"]}' });
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_redirect_uri');
    assert.equal((await fetch(reg.registration_client_uri, { method: 'DELETE', headers: auth })).status, 204);
    assert.equal((await fetch(reg.registration_client_uri, { headers: auth })).status, 401);
  });

  it('runs the code flow with PKCE through the sign-in form, then UserInfo, refresh rotation and reuse detection', async () => {
    const config = await register({ grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid profile email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    });
    const browser = new Browser();
    const callback = await signIn(browser, url);
    assert.equal(callback.searchParams.get('iss'), issuer);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true });

    const { payload: id, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer, audience: config.clientMetadata().client_id });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(id.nonce, nonce);
    assert.equal(typeof id.at_hash, 'string');
    assert.equal(typeof id.auth_time, 'number');
    assert.deepEqual(id.amr, ['pwd']);
    const { payload: at, protectedHeader: atHeader } = await jwtVerify(tokens.access_token, jwks, { issuer, typ: 'at+jwt' });
    assert.equal(atHeader.alg, 'EdDSA');
    assert.equal(at.client_id, config.clientMetadata().client_id);
    assert.equal(at.sub, id.sub);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, id.sub!);
    assert.equal(info.email, 'alice@example.com');
    assert.equal(info.preferred_username, 'alice');
    assert.equal(info.name, 'Alice Liddell');

    const first = tokens.refresh_token!;
    const rotated = await oidc.refreshTokenGrant(config, first);
    assert.ok(rotated.refresh_token && rotated.refresh_token !== first);
    await assert.rejects(oidc.refreshTokenGrant(config, first), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    // The reuse revoked the whole family: the newest refresh token and the access tokens die too.
    await assert.rejects(oidc.refreshTokenGrant(config, rotated.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    const intro = await oidc.tokenIntrospection(config, rotated.access_token);
    assert.equal(intro.active, false);

    // The session cookie signs the next authorization in silently, with no page shown.
    const again = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const silent = await browser.fetch(again);
    assert.equal(silent.status, 303);
    assert.ok(new URL(silent.headers.get('location')!).searchParams.get('code'));
  });

  it('pushes the request (PAR) and carries authorization_details into the token and introspection (RFC 9126, RFC 9396)', async () => {
    const config = await register({
      grant_types: ['authorization_code'],
      scope: 'openid',
      require_pushed_authorization_requests: true,
      authorization_details_types: ['payment_initiation'],
    } as Partial<oidc.ClientMetadata>);
    const details = [{ type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '123.50' }, creditorName: 'Merchant A' }];
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CALLBACK,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      authorization_details: JSON.stringify(details),
      state: 'par-state',
    });
    assert.match(url.searchParams.get('request_uri')!, /^urn:ietf:params:oauth:request_uri:/);
    const browser = new Browser();
    const callback = await signIn(browser, url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'par-state' });
    assert.deepEqual(tokens.authorization_details, details);
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer });
    assert.deepEqual(payload.authorization_details, details);
    const intro = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(intro.active, true);
    assert.deepEqual(intro.authorization_details, details);
    // The request_uri was single-use.
    const replay = await browser.fetch(url);
    assert.equal(replay.status, 400);
    assert.match(replay.headers.get('content-type')!, /text\/html/);
    // Without PAR the same client is refused, at its redirect URI with iss.
    const front = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const refused = new URL((await browser.fetch(front)).headers.get('location')!);
    assert.equal(refused.searchParams.get('error'), 'invalid_request');
    assert.equal(refused.searchParams.get('iss'), issuer);
  });

  it('grants client credentials to a private_key_jwt client and introspects and revokes its token', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'rp-key', alg: 'EdDSA', use: 'sig' };
    const config = await register(
      { grant_types: ['client_credentials'], scope: 'reports:read', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, redirect_uris: [] } as Partial<oidc.ClientMetadata>,
      oidc.PrivateKeyJwt({ key: privateKey, kid: 'rp-key' }),
    );
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports:read', resource: 'https://reports.example.com' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer, audience: 'https://reports.example.com', typ: 'at+jwt' });
    assert.equal(payload.scope, 'reports:read');
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
    await oidc.tokenRevocation(config, tokens.access_token);
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it('ends the session with RP-initiated logout and returns to the registered URI with state', async () => {
    const config = await register({ grant_types: ['authorization_code'], scope: 'openid', post_logout_redirect_uris: ['http://localhost:9/bye'] } as Partial<oidc.ClientMetadata>);
    const verifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    const browser = new Browser();
    const callback = await signIn(browser, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }));
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://localhost:9/bye', state: 'bye-state' });
    const res = await browser.fetch(end);
    assert.equal(res.status, 303);
    const back = new URL(res.headers.get('location')!);
    assert.equal(back.origin + back.pathname, 'http://localhost:9/bye');
    assert.equal(back.searchParams.get('state'), 'bye-state');
    const after = await browser.fetch(oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    assert.equal(new URL(after.headers.get('location')!).searchParams.get('error'), 'login_required');
    assert.equal(decodeJwt(tokens.id_token!).iss, issuer);
  });
});
