// DPoP (RFC 9449) over real HTTP: openid-client as the client for the token and UserInfo
// requests, hand-made proofs for every attack the RFC names (replay, wrong htu/htm, stale iat,
// missing ath, a token without its proof or with another key's).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { SignJWT, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { accessTokenHash } from '#functions/auth/core/dpop';

const insecure = { execute: [oidc.allowInsecureRequests] };
const CALLBACK = 'http://localhost:9/callback';

interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
  alg: string;
}

async function proofKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  return { privateKey, jwk: await exportJWK(publicKey), alg };
}

/** A DPoP proof JWT (RFC 9449 §4.2), every field overridable to forge the bad ones. */
async function proof(k: ProofKey, htm: string, htu: string, o: { iat?: number; jti?: string; ath?: string; nonce?: string; typ?: string; jwk?: JWK } = {}): Promise<string> {
  const payload: Record<string, unknown> = { htm, htu, jti: o.jti ?? randomUUID() };
  if (o.ath) payload.ath = o.ath;
  if (o.nonce) payload.nonce = o.nonce;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: k.alg, typ: o.typ ?? 'dpop+jwt', jwk: o.jwk ?? k.jwk })
    .setIssuedAt(o.iat ?? Math.floor(Date.now() / 1000))
    .sign(k.privateKey);
}

describe('ZenoAuth DPoP (RFC 9449)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let issuer: string;
  let svcSecret: string;
  let strictSecret: string;
  let nonceSecret: string;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const acme = await makeTenant(tdb.database.db, 'acme');
    await makeUser(tdb.database.db, acme, { username: 'alice', password: 'wonderland-42' });
    issuer = `${h.baseUrl}/auth/acme`;
    ({ secret: svcSecret } = (await makeClient(tdb.database.db, acme, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' })) as { secret: string });
    ({ secret: strictSecret } = (await makeClient(tdb.database.db, acme, { client_id: 'strict', grant_types: ['client_credentials'], scope: 'read', dpop_bound_access_tokens: true })) as { secret: string });
    ({ secret: nonceSecret } = (await makeClient(tdb.database.db, acme, { client_id: 'noncey', grant_types: ['client_credentials'], scope: 'read', dpop_nonce_required: true })) as { secret: string });
    await makeClient(tdb.database.db, acme, { client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const tokenRequest = (body: Record<string, string>, headers: Record<string, string>, endpoint = `${issuer}/token`) =>
    fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
  const svcToken = async (dpop: string | undefined, client: readonly [string, string] = ['svc', svcSecret]) => {
    const res = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basicAuth(client[0], client[1]), ...(dpop ? { dpop } : {}) });
    return { res, body: (await res.json()) as Record<string, string> };
  };
  const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

  /** A public client's code flow through the sign-in page, with openid-client and a DPoP key. */
  async function signInWithDpop(config: oidc.Configuration, dpop: oidc.DPoPHandle) {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid profile offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new Browser();
    const page = await (await browser.fetch(url)).text();
    const res = await browser.submit(page, { username: 'alice', password: 'wonderland-42' }, /\/login$/);
    assert.equal(res.status, 303);
    return oidc.authorizationCodeGrant(config, new URL(res.headers.get('location')!), { pkceCodeVerifier: verifier }, undefined, { DPoP: dpop });
  }

  it('advertises dpop_signing_alg_values_supported (§5.1)', async () => {
    const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { dpop_signing_alg_values_supported: string[] };
    assert.deepEqual(meta.dpop_signing_alg_values_supported, ['EdDSA', 'Ed25519', 'ES256']);
  });

  it('binds a client-credentials token to the proof key with openid-client: token_type DPoP, cnf.jkt, introspection reports both (§5, §6.1)', async () => {
    const config = await oidc.discovery(new URL(issuer), 'svc', undefined, oidc.ClientSecretBasic(svcSecret), insecure);
    const keyPair = await oidc.randomDPoPKeyPair('ES256', { extractable: true });
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: oidc.getDPoPHandle(config, keyPair) });
    assert.equal(tokens.token_type, 'dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
    const intro = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(intro.active, true);
    assert.equal(intro.token_type, 'DPoP');
    assert.deepEqual(intro.cnf, { jkt });
  });

  it('runs the code flow of a public client with an Ed25519 key: UserInfo with the DPoP scheme, refresh bound to the key (§5, §7)', async () => {
    const config = await oidc.discovery(new URL(issuer), 'spa', undefined, oidc.None(), insecure);
    const keyPair = await oidc.randomDPoPKeyPair('Ed25519', { extractable: true });
    const dpop = oidc.getDPoPHandle(config, keyPair, { [oidc.modifyAssertion]: (header) => { if (header.alg === 'Ed25519') header.alg = 'EdDSA'; } });
    const tokens = await signInWithDpop(config, dpop);
    assert.equal(tokens.token_type, 'dpop');
    const sub = decodeJwt(tokens.access_token).sub!;
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub, { DPoP: dpop });
    assert.equal(info.preferred_username, 'alice');
    // §5: "Refresh tokens issued to public clients MUST be bound to the DPoP public key".
    const stranger = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: stranger }), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
    // The refused attempts rolled back: the right key still refreshes, and the new token is bound too.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: dpop });
    assert.equal(refreshed.token_type, 'dpop');
    const [family] = await tdb.database.query<{ dpop_jkt: string }>(sql`select dpop_jkt from auth.token_families where client_id = (select id from auth.clients where client_id = 'spa')`);
    assert.equal(family!.dpop_jkt, await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)));
  });

  it('sends use_dpop_nonce with a DPoP-Nonce to a client that must use nonces, and openid-client retries with it (§8)', async () => {
    const k = await proofKey();
    const first = await svcToken(await proof(k, 'POST', `${issuer}/token`), ['noncey', nonceSecret]);
    assert.equal(first.res.status, 400);
    assert.equal(first.body.error, 'use_dpop_nonce');
    const nonce = first.res.headers.get('dpop-nonce');
    assert.ok(nonce);
    const second = await svcToken(await proof(k, 'POST', `${issuer}/token`, { nonce }), ['noncey', nonceSecret]);
    assert.equal(second.res.status, 200);
    assert.ok(second.res.headers.get('dpop-nonce'));
    const forged = await svcToken(await proof(k, 'POST', `${issuer}/token`, { nonce: `${nonce!.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA` }), ['noncey', nonceSecret]);
    assert.equal(forged.body.error, 'use_dpop_nonce');
    const config = await oidc.discovery(new URL(issuer), 'noncey', undefined, oidc.ClientSecretBasic(nonceSecret), insecure);
    const tokens = await oidc.clientCredentialsGrant(config, {}, { DPoP: oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair()) });
    assert.equal(tokens.token_type, 'dpop');
  });

  it('refuses a token request without a proof from a dpop_bound_access_tokens client, and issues Bearer tokens to others (§5.2)', async () => {
    const strict = await svcToken(undefined, ['strict', strictSecret]);
    assert.equal(strict.res.status, 400);
    assert.equal(strict.body.error, 'invalid_dpop_proof');
    const plain = await svcToken(undefined);
    assert.equal(plain.body.token_type, 'Bearer');
    assert.equal(decodeJwt(plain.body.access_token!).cnf, undefined);
  });

  it('refuses forged and replayed proofs at the token endpoint with invalid_dpop_proof (§4.3, §11.1)', async () => {
    const k = await proofKey();
    const url = `${issuer}/token`;
    const now = Math.floor(Date.now() / 1000);
    const { privateKey: rsa, publicKey: rsaPublic } = await generateKeyPair('RS256');
    const rsaProof = await new SignJWT({ htm: 'POST', htu: url, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk: await exportJWK(rsaPublic) }).setIssuedAt().sign(rsa);
    const { privateKey: ecPriv } = await generateKeyPair('ES256', { extractable: true });
    const cases: [string, string][] = [
      ['wrong htm (§4.3 item 8)', await proof(k, 'GET', url)],
      ['wrong htu (§4.3 item 9)', await proof(k, 'POST', `${issuer}/userinfo`)],
      ['another origin in htu', await proof(k, 'POST', 'https://evil.example/auth/acme/token')],
      ['stale iat (§4.3 item 11)', await proof(k, 'POST', url, { iat: now - 3600 })],
      ['iat in the future', await proof(k, 'POST', url, { iat: now + 3600 })],
      ['typ JWT (§4.3 item 4)', await proof(k, 'POST', url, { typ: 'JWT' })],
      ['RS256, not accepted (§4.3 item 5)', rsaProof],
      ['a private key as jwk (§4.3 item 6)', await proof({ ...k, privateKey: ecPriv }, 'POST', url, { jwk: await exportJWK(ecPriv) })],
      ['a signature by another key than jwk', await proof({ ...k, privateKey: ecPriv }, 'POST', url)],
      ['a short jti', await proof(k, 'POST', url, { jti: 'x' })],
      ['two DPoP headers (§4.3 item 1)', `${await proof(k, 'POST', url)}, ${await proof(k, 'POST', url)}`],
      ['not a JWT', 'not-a-jwt'],
      // Larger than any proof, within what the HTTP server reads.
      ['an oversized header', 'a'.repeat(6000)],
    ];
    for (const [what, dpop] of cases) {
      const { res, body } = await svcToken(dpop);
      assert.equal(res.status, 400, what);
      assert.equal(body.error, 'invalid_dpop_proof', what);
    }
    // §11.1: the same proof twice, at the same endpoint.
    const once = await proof(k, 'POST', url);
    assert.equal((await svcToken(once)).res.status, 200);
    const replay = await svcToken(once);
    assert.equal(replay.res.status, 400);
    assert.equal(replay.body.error, 'invalid_dpop_proof');
    const [row] = await tdb.database.query<{ n: number; live: boolean }>(sql`select count(*)::int as n, bool_and(expires_at > now() and expires_at < now() + interval '2 minutes') as live from auth.dpop_proof_jtis`);
    assert.ok(row!.n > 0);
    assert.equal(row!.live, true);
  });

  it('refuses a bound token at UserInfo without its proof, with another key, with a missing or wrong ath, or replayed (§7.1, §7.2)', async () => {
    const config = await oidc.discovery(new URL(issuer), 'spa', undefined, oidc.None(), insecure);
    const keyPair = await oidc.randomDPoPKeyPair('ES256', { extractable: true });
    const tokens = await signInWithDpop(config, oidc.getDPoPHandle(config, keyPair));
    const at = tokens.access_token;
    const k: ProofKey = { privateKey: keyPair.privateKey, jwk: await exportJWK(keyPair.publicKey), alg: 'ES256' };
    const url = `${issuer}/userinfo`;
    const userinfo = (authorization: string, dpop?: string) => fetch(url, { headers: { authorization, ...(dpop ? { dpop } : {}) } });
    const expect = async (res: Response, status: number, error: string, what: string) => {
      assert.equal(res.status, status, what);
      assert.equal(await errorOf(res), error, what);
      assert.match(res.headers.get('www-authenticate') ?? '', new RegExp(`^DPoP error="${error}"`), what);
    };
    await expect(await userinfo(`Bearer ${at}`), 401, 'invalid_token', 'a bound token presented as Bearer');
    await expect(await userinfo(`DPoP ${at}`), 401, 'invalid_dpop_proof', 'no proof');
    await expect(await userinfo(`DPoP ${at}`, await proof(k, 'GET', url)), 401, 'invalid_dpop_proof', 'no ath');
    await expect(await userinfo(`DPoP ${at}`, await proof(k, 'GET', url, { ath: accessTokenHash('another token') })), 401, 'invalid_dpop_proof', 'a wrong ath');
    await expect(await userinfo(`DPoP ${at}`, await proof(await proofKey(), 'GET', url, { ath: accessTokenHash(at) })), 401, 'invalid_dpop_proof', 'another key');
    await expect(await userinfo(`DPoP ${at}`, await proof(k, 'POST', url, { ath: accessTokenHash(at) })), 401, 'invalid_dpop_proof', 'a wrong htm');
    const good = await proof(k, 'GET', url, { ath: accessTokenHash(at) });
    assert.equal((await userinfo(`DPoP ${at}`, good)).status, 200);
    await expect(await userinfo(`DPoP ${at}`, good), 401, 'invalid_dpop_proof', 'a replayed proof');
    // A plain Bearer token shown with the DPoP scheme is not DPoP-bound.
    const { body } = await svcToken(undefined);
    await expect(await userinfo(`DPoP ${body.access_token}`, await proof(k, 'GET', url, { ath: accessTokenHash(body.access_token!) })), 401, 'invalid_token', 'an unbound token');
    const odd = await fetch(url, { headers: { authorization: 'Negotiate abc' } });
    assert.equal(odd.status, 400);
  });

  it('keeps a bound token out of the Bearer-only APIs (admin) and still revokes it (§7.2, RFC 7009)', async () => {
    const k = await proofKey();
    const systemToken = `${h.baseUrl}/auth/system/token`;
    const res = await tokenRequest({ grant_type: 'client_credentials', scope: 'zeno:admin' }, { authorization: basicAuth('zeno-admin', h.adminSecret), dpop: await proof(k, 'POST', systemToken) }, systemToken);
    assert.equal(res.status, 200);
    const bound = ((await res.json()) as { access_token: string }).access_token;
    const admin = await fetch(`${h.baseUrl}/auth/admin/tenants`, { headers: { authorization: `Bearer ${bound}` } });
    assert.equal(admin.status, 401);
    const { body } = await svcToken(await proof(k, 'POST', `${issuer}/token`));
    const revoked = await fetch(`${issuer}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', svcSecret) }, body: `token=${body.access_token}` });
    assert.equal(revoked.status, 200);
    const intro = await fetch(`${issuer}/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', svcSecret) }, body: `token=${body.access_token}` });
    assert.equal(((await intro.json()) as { active: boolean }).active, false);
  });
});
