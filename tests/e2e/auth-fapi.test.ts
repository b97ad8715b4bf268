// The FAPI 2.0 Security Profile as a per-client profile, over real HTTP: openid-client runs the
// profile's flow (PAR, PKCE S256, private_key_jwt, DPoP); raw requests for what it refuses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeTenant, makeUser } from '#functions/auth/testing/fixtures';

const CALLBACK = 'http://localhost:9/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

describe('ZenoAuth FAPI 2.0 Security Profile (per client)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let issuer: string;
  let adminToken: string;
  let key: CryptoKey;
  let config: oidc.Configuration;
  let clientId: string;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const acme = await makeTenant(tdb.database.db, 'acme');
    await makeUser(tdb.database.db, acme, { username: 'alice', password: 'wonderland-42' });
    issuer = `${h.baseUrl}/auth/acme`;
    const res = await fetch(`${h.baseUrl}/auth/system/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('zeno-admin', h.adminSecret) },
      body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
    });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
    const pair = await generateKeyPair('ES256', { extractable: true });
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), alg: 'ES256', kid: 'k1' };
    config = await oidc.dynamicClientRegistration(
      new URL(issuer),
      { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, scope: 'openid profile', security_profile: 'fapi2' },
      oidc.PrivateKeyJwt(key),
      { ...insecure, initialAccessToken: adminToken },
    );
    clientId = config.clientMetadata().client_id;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const assertion = () =>
    new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256' }).setIssuer(clientId).setSubject(clientId).setAudience(issuer).setIssuedAt().setExpirationTime('1m').sign(key);
  async function par(body: Record<string, string>) {
    const res = await fetch(`${issuer}/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(), ...body }).toString(),
    });
    return { status: res.status, ...((await res.json()) as { error?: string; request_uri?: string }) };
  }

  async function signIn(url: URL): Promise<URL> {
    const browser = new Browser();
    let res = await browser.fetch(url);
    let html = await res.text();
    res = await browser.submit(html, { username: 'alice', password: 'wonderland-42' }, /\/login$/);
    if (res.status === 200) {
      html = await res.text();
      res = await browser.submit(html, { decision: 'allow' }, /\/consent$/);
    }
    assert.equal(res.status, 303);
    return new URL(res.headers.get('location')!);
  }

  async function authorizeThroughPar(): Promise<{ callback: URL; verifier: string; state: string }> {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, { redirect_uri: CALLBACK, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    return { callback: await signIn(url), verifier, state };
  }

  it('turns PAR on for the client at registration (FAPI 2.0 §5.3.2.2 item 2)', () => {
    const meta = config.clientMetadata() as Record<string, unknown>;
    assert.equal(meta.security_profile, 'fapi2');
    assert.equal(meta.require_pushed_authorization_requests, true);
  });

  it('runs the profile flow with openid-client: PAR, PKCE S256, private_key_jwt, DPoP-bound tokens, iss in the response (FAPI 2.0 §5.3.2, RFC 9207 §2)', async () => {
    const { callback, verifier, state } = await authorizeThroughPar();
    assert.equal(callback.searchParams.get('iss'), issuer);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: dpop });
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.equal(typeof (decodeJwt(tokens.access_token).cnf as { jkt?: string } | undefined)?.jkt, 'string');
  });

  it('issues codes that live at most 60 seconds (FAPI 2.0 §5.3.2.1 item 14)', async () => {
    await authorizeThroughPar();
    const result = (await tdb.database.db.execute(sql`select extract(epoch from expires_at - created_at)::int as ttl from auth.authorization_codes`)) as unknown;
    const rows = (Array.isArray(result) ? result : (result as { rows: { ttl: number }[] }).rows) as { ttl: number }[];
    assert.ok(rows.length > 0);
    for (const r of rows) assert.ok(Number(r.ttl) <= 60, `code lifetime ${r.ttl}`);
  });

  it('refuses a plain bearer token request: no DPoP proof, no token (FAPI 2.0 §5.3.2.1 item 3)', async () => {
    const { callback, verifier, state } = await authorizeThroughPar();
    await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }), (err: oidc.ResponseBodyError) => err.error === 'invalid_request');
  });

  it('refuses an authorization request that did not go through PAR (FAPI 2.0 §5.3.2.2 item 2, RFC 9126 §6)', async () => {
    const url = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({ client_id: clientId, response_type: 'code', redirect_uri: CALLBACK, scope: 'openid', state: 'np', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })) url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.equal(back.searchParams.get('iss'), issuer);
    assert.equal(back.searchParams.get('state'), 'np');
  });

  it('refuses a pushed request without PKCE, and the implicit and hybrid response types (FAPI 2.0 §5.3.2.2 items 1 and 5)', async () => {
    const noPkce = await par({ response_type: 'code', redirect_uri: CALLBACK, scope: 'openid' });
    assert.equal(noPkce.status, 400);
    assert.equal(noPkce.error, 'invalid_request');
    const challenge = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    for (const responseType of ['token', 'id_token', 'code id_token', 'code token']) {
      const r = await par({ response_type: responseType, redirect_uri: CALLBACK, scope: 'openid', ...challenge });
      assert.equal(r.error, 'unsupported_response_type', responseType);
    }
    const ok = await par({ response_type: 'code', redirect_uri: CALLBACK, scope: 'openid', ...challenge });
    assert.equal(ok.status, 201);
  });

  it('refuses FAPI 2.0 registrations the profile forbids (FAPI 2.0 §5.3.2.1 items 4 and 5)', async () => {
    const register = (body: Record<string, unknown>) =>
      fetch(`${issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ redirect_uris: [CALLBACK], security_profile: 'fapi2', ...body }) });
    for (const method of ['client_secret_basic', 'client_secret_post', 'none']) {
      const res = await register({ token_endpoint_auth_method: method });
      assert.equal(res.status, 400, method);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client_metadata', method);
    }
  });
});
