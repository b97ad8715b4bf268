// JAR (RFC 9101) and JARM over real HTTP: openid-client signs request objects (by value and
// pushed through PAR) and validates signed authorization responses; hand-made request objects
// for every refusal the RFC names (signature, alg, aud, iss, exp, nbf, jti replay, nesting).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { SignJWT, createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';

const CALLBACK = 'http://localhost:9/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

interface ClientKey {
  privateKey: CryptoKey;
  jwk: JWK & { kty: string };
  alg: string;
}

async function clientKey(alg: 'ES256' | 'EdDSA' | 'PS256' | 'RS256'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined, extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), alg, kid: randomUUID() } as JWK & { kty: string }, alg };
}

describe('ZenoAuth JAR (RFC 9101) and JARM', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let issuer: string;
  let adminToken: string;
  let es256: ClientKey;
  let eddsa: ClientKey;
  let rs256: ClientKey;
  let signedSecret: string;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const acme = await makeTenant(tdb.database.db, 'acme');
    await makeUser(tdb.database.db, acme, { username: 'alice', password: 'wonderland-42' });
    issuer = `${h.baseUrl}/auth/acme`;
    jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    [es256, eddsa, rs256] = await Promise.all([clientKey('ES256'), clientKey('EdDSA'), clientKey('RS256')]);
    // A secret client that registered keys for its request objects and must always send one.
    ({ secret: signedSecret } = (await makeClient(tdb.database.db, acme, {
      client_id: 'signed',
      redirect_uris: [CALLBACK],
      scope: 'openid profile email',
      jwks: { keys: [es256.jwk, eddsa.jwk, rs256.jwk] },
      require_signed_request_object: true,
      first_party: true,
    })) as { secret: string });
    const res = await fetch(`${h.baseUrl}/auth/system/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('zeno-admin', h.adminSecret) },
      body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
    });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  /** A private_key_jwt client registered through DCR with `key`, as openid-client sees it. */
  async function register(key: ClientKey, metadata: Partial<oidc.ClientMetadata> = {}): Promise<oidc.Configuration> {
    return oidc.dynamicClientRegistration(
      new URL(issuer),
      { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.jwk] }, scope: 'openid profile email', ...metadata },
      oidc.PrivateKeyJwt(key.privateKey),
      { ...insecure, initialAccessToken: adminToken },
    );
  }

  /** Signs in through the real pages (and consents); returns the last response. */
  async function signIn(url: URL | string): Promise<Response> {
    const browser = new Browser();
    let res = await browser.fetch(url);
    let html = await res.text();
    if (res.status === 200 && html.includes('name="password"')) {
      res = await browser.submit(html, { username: 'alice', password: 'wonderland-42' }, /\/login$/);
      html = res.status === 200 ? await res.text() : '';
    }
    if (res.status === 200 && html.includes('name="decision"')) {
      res = await browser.submit(html, { decision: 'allow' }, /\/consent$/);
      html = res.status === 200 ? await res.text() : '';
    }
    return Object.assign(res, { html });
  }

  async function pkce() {
    const verifier = oidc.randomPKCECodeVerifier();
    return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
  }

  /** A request object signed by hand, each claim overridable (undefined removes it). */
  async function requestObject(key: ClientKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const base: Record<string, unknown> = { iss: 'signed', aud: issuer, client_id: 'signed', exp: now + 60, nbf: now, iat: now, jti: randomUUID(), response_type: 'code', redirect_uri: CALLBACK, scope: 'openid' };
    const payload = Object.fromEntries(Object.entries({ ...base, ...claims }).filter(([, v]) => v !== undefined));
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'oauth-authz-req+jwt', ...header }).sign(key.privateKey);
  }

  const par = (body: Record<string, string>) =>
    fetch(`${issuer}/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('signed', signedSecret) }, body: new URLSearchParams(body).toString() });
  const parError = async (body: Record<string, string>) => {
    const res = await par(body);
    return { status: res.status, ...((await res.json()) as { error?: string; error_description?: string; request_uri?: string }) };
  };

  it('advertises request objects and JARM in discovery (RFC 9101 §10.1, JARM §4.1)', async () => {
    const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(meta.request_parameter_supported, true);
    assert.equal(meta.request_uri_parameter_supported, false);
    assert.deepEqual(meta.request_object_signing_alg_values_supported, ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256']);
    assert.deepEqual(meta.response_modes_supported, ['query', 'jwt', 'query.jwt', 'fragment.jwt', 'form_post.jwt']);
    assert.deepEqual(meta.authorization_signing_alg_values_supported, ['RS256', 'EdDSA']);
  });

  it('accepts an ES256 request object by value from openid-client (RFC 9101 §5.1)', async () => {
    const config = await register(es256);
    const { verifier, challenge } = await pkce();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithJAR(config, { redirect_uri: CALLBACK, scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256', state }, es256.privateKey);
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request']);
    const res = await signIn(url);
    assert.equal(res.status, 303);
    const callback = new URL(res.headers.get('location')!);
    assert.equal(callback.searchParams.get('iss'), issuer);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal(decodeJwt(tokens.access_token).scope, 'openid email');
  });

  it('accepts an EdDSA request object pushed through PAR (RFC 9101 §5.1, RFC 9126 §3)', async () => {
    const config = await register(eddsa);
    const { verifier, challenge } = await pkce();
    const { searchParams } = await oidc.buildAuthorizationUrlWithJAR(config, { redirect_uri: CALLBACK, scope: 'openid profile', code_challenge: challenge, code_challenge_method: 'S256' }, eddsa.privateKey);
    const url = await oidc.buildAuthorizationUrlWithPAR(config, searchParams);
    assert.ok(url.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'));
    const res = await signIn(url);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(res.headers.get('location')!), { pkceCodeVerifier: verifier });
    assert.equal(decodeJwt(tokens.access_token).scope, 'openid profile');
  });

  it('uses only the request object parameters, never those beside it (RFC 9101 §6.3)', async () => {
    const ro = await requestObject(rs256, { scope: 'openid', state: 'from-the-object' });
    const url = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({ client_id: 'signed', request: ro, scope: 'openid profile email', state: 'from-the-query', redirect_uri: 'https://evil.example/cb' })) url.searchParams.set(k, v);
    const res = await signIn(url);
    assert.equal(res.status, 303);
    const callback = new URL(res.headers.get('location')!);
    assert.equal(callback.origin + callback.pathname, CALLBACK);
    assert.equal(callback.searchParams.get('state'), 'from-the-object');
    const token = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('signed', signedSecret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: CALLBACK }).toString(),
    });
    assert.equal(decodeJwt(((await token.json()) as { access_token: string }).access_token).scope, 'openid');
  });

  it('refuses a plain request from a client with require_signed_request_object (RFC 9101 §10.5)', async () => {
    const r = await parError({ response_type: 'code', redirect_uri: CALLBACK, scope: 'openid' });
    assert.equal(r.status, 400);
    assert.equal(r.error, 'invalid_request');
    const url = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({ client_id: 'signed', response_type: 'code', redirect_uri: CALLBACK, scope: 'openid', state: 's1' })) url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.equal(back.searchParams.get('state'), 's1');
  });

  it('refuses request objects that do not verify with invalid_request_object (RFC 9101 §6.2)', async () => {
    const stranger = await clientKey('ES256');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Promise<string> | string][] = [
      ['signed by an unregistered key', requestObject(stranger, {})],
      ['aud is not the issuer (§4)', requestObject(es256, { aud: 'https://other.example' })],
      ['iss is not the client (§4)', requestObject(es256, { iss: 'someone-else' })],
      ['expired (exp)', requestObject(es256, { exp: now - 120, nbf: now - 180 })],
      ['not yet valid (nbf)', requestObject(es256, { nbf: now + 600, exp: now + 700 })],
      ['without exp', requestObject(es256, { exp: undefined })],
      ['without jti', requestObject(es256, { jti: undefined })],
      ['living more than an hour', requestObject(es256, { exp: now + 7200 })],
      ['naming another client_id (§5)', requestObject(es256, { client_id: 'web' })],
      ['nesting request_uri (§5)', requestObject(es256, { request_uri: 'urn:ietf:params:oauth:request_uri:x' })],
      ['with a foreign typ (§10.8)', requestObject(es256, {}, { typ: 'dpop+jwt' })],
      ['unsigned (alg none)', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'signed', aud: issuer, exp: now + 60, jti: 'n' })).toString('base64url')}.`],
      ['not a JWT', 'garbage'],
    ];
    for (const [what, jwt] of cases) {
      const r = await parError({ request: await jwt });
      assert.equal(r.status, 400, what);
      assert.equal(r.error, 'invalid_request_object', `${what}: ${r.error_description}`);
    }
    const hs256 = await new SignJWT({ iss: 'signed', aud: issuer, exp: now + 60, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(signedSecret));
    assert.equal((await parError({ request: hs256 })).error, 'invalid_request_object', 'HS256 keyed with the client secret');
  });

  it('refuses a replayed request object (jti, RFC 9101 §10.3 via FAPI)', async () => {
    const ro = await requestObject(eddsa, {});
    const first = await parError({ request: ro });
    assert.equal(first.status, 201);
    assert.ok(first.request_uri);
    const again = await parError({ request: ro });
    assert.equal(again.error, 'invalid_request_object');
    assert.match(again.error_description ?? '', /already used/);
  });

  it('shows a page, not a redirect, when a request object by value fails (RFC 9101 §6.2)', async () => {
    const url = new URL(`${issuer}/authorize`);
    url.searchParams.set('client_id', 'signed');
    url.searchParams.set('request', await requestObject(await clientKey('ES256'), {}));
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    const both = new URL(url);
    both.searchParams.set('request_uri', 'urn:ietf:params:oauth:request_uri:abc');
    assert.equal((await fetch(both, { redirect: 'manual' })).status, 400);
  });

  it('returns a signed response in the query for response_mode=jwt, validated by openid-client (JARM §2.3.1, §4.4)', async () => {
    const config = await register(es256, { authorization_signed_response_alg: 'EdDSA' });
    oidc.useJwtResponseMode(config);
    const { verifier, challenge } = await pkce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state });
    assert.equal(url.searchParams.get('response_mode'), 'jwt');
    const res = await signIn(url);
    const callback = new URL(res.headers.get('location')!);
    assert.deepEqual([...callback.searchParams.keys()], ['response']);
    const { payload, protectedHeader } = await jwtVerify(callback.searchParams.get('response')!, jwks, { issuer, audience: config.clientMetadata().client_id });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(payload.state, state);
    assert.equal(typeof payload.exp, 'number');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    assert.ok(tokens.access_token);
  });

  it('carries the signed response in the fragment for fragment.jwt (JARM §2.3.2)', async () => {
    const config = await register(es256);
    const { challenge } = await pkce();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', response_mode: 'fragment.jwt', state: 'frag' });
    const res = await signIn(url);
    const callback = new URL(res.headers.get('location')!);
    assert.equal(callback.search, '');
    const { payload, protectedHeader } = await jwtVerify(new URLSearchParams(callback.hash.slice(1)).get('response')!, jwks, { issuer, audience: config.clientMetadata().client_id });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.state, 'frag');
    assert.equal(typeof payload.code, 'string');
  });

  it('posts the signed response in an auto-submitted form for form_post.jwt (JARM §2.3.3)', async () => {
    const config = await register(es256);
    const { verifier, challenge } = await pkce();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', response_mode: 'form_post.jwt', state: 'posted' });
    // After building the URL: openid-client's JARM switch would otherwise overwrite response_mode with jwt.
    oidc.useJwtResponseMode(config);
    const res = (await signIn(url)) as Response & { html: string };
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'sha256-/);
    const response = /name="response" value="([^"]+)"/.exec(res.html)?.[1];
    assert.ok(response, 'the form carries the response');
    assert.match(res.html, new RegExp(`action="${CALLBACK}"`));
    const posted = new Request(CALLBACK, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ response }).toString() });
    const tokens = await oidc.authorizationCodeGrant(config, posted, { pkceCodeVerifier: verifier, expectedState: 'posted' });
    assert.ok(tokens.access_token);
  });

  it('signs error responses too, and refuses an unknown response_mode (JARM §2.4)', async () => {
    const config = await register(es256);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', response_mode: 'jwt', prompt: 'none', state: 'silent', code_challenge: (await pkce()).challenge, code_challenge_method: 'S256' });
    const res = await fetch(url, { redirect: 'manual' });
    const callback = new URL(res.headers.get('location')!);
    const { payload } = await jwtVerify(callback.searchParams.get('response')!, jwks, { issuer, audience: config.clientMetadata().client_id });
    assert.equal(payload.error, 'login_required');
    assert.equal(payload.state, 'silent');
    const bad = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', response_mode: 'web_message', code_challenge: (await pkce()).challenge, code_challenge_method: 'S256' });
    const refused = new URL((await fetch(bad, { redirect: 'manual' })).headers.get('location')!);
    assert.equal(refused.searchParams.get('error'), 'invalid_request');
  });
});
