import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant } from '../testing/fixtures.js';
import type { Tenant } from '../core/schema.js';

/** Polls `check` until it holds (the cache learns of a change when the commit's NOTIFY arrives). */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never happened: ${what}`);
}

describe('POST /auth/{tenant}/token (RFC 6749 §4.4, RFC 7523, RFC 7662, RFC 7009)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let acme: Tenant;
  let other: Tenant;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    acme = await makeTenant(tdb.database.db, 'acme');
    other = await makeTenant(tdb.database.db, 'other');
    ({ secret } = (await makeClient(tdb.database.db, acme, {
      client_id: 'svc',
      grant_types: ['client_credentials'],
      scope: 'read write',
      authorization_details_types: ['payment'],
    })) as { secret: string });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const token = (tenant: string, body: Record<string, string | string[]>, auth?: string) =>
    h.fetch(`/auth/${tenant}/token`, { ...form(body), headers: { ...form(body).headers, ...(auth ? { authorization: auth } : {}) } });

  it('issues an RFC 9068 access token for client credentials', async () => {
    const res = await token('acme', { grant_type: 'client_credentials', scope: 'read', resource: 'https://api.example.com/' }, basicAuth('svc', secret));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as { access_token: string; scope: string; token_type: string };
    assert.equal(body.token_type, 'Bearer');
    assert.deepEqual(decodeProtectedHeader(body.access_token), { alg: 'EdDSA', typ: 'at+jwt', kid: decodeProtectedHeader(body.access_token).kid });
    const claims = decodeJwt(body.access_token);
    assert.equal(claims.iss, `${h.baseUrl}/auth/acme`);
    assert.equal(claims.client_id, 'svc');
    assert.equal(claims.sub, 'svc');
    assert.equal(claims.scope, 'read');
    assert.equal(claims.aud, 'https://api.example.com/');
    await Promise.all(h.hosted.map((x) => x.module.shutdown?.()));
    const rows = await tdb.database.query<{ actor: string; detail: { jti: string } }>(sql`select actor, detail from auth.audit where action = 'token.issued' and outcome = 'success'`);
    assert.ok(rows.some((r) => r.actor === 'svc' && r.detail.jti === claims.jti));
  });

  it('rejects a wrong secret, an unknown client and the client of another tenant with invalid_client', async () => {
    for (const [tenant, auth] of [['acme', basicAuth('svc', 'nope')], ['acme', basicAuth('ghost', secret)], ['other', basicAuth('svc', secret)]] as const) {
      const res = await token(tenant, { grant_type: 'client_credentials' }, auth);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
    }
    assert.ok(other);
  });

  it('answers malformed requests with the RFC 6749 error shape, never a 500', async () => {
    const cases: [RequestInit, string][] = [
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 'invalid_request'],
      [{ ...form({ grant_type: 'password' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'unsupported_grant_type'],
      [{ ...form({}), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'invalid_request'],
      [{ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic %%%' }, body: 'grant_type=client_credentials' }, 'invalid_client'],
      [{ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', secret) }, body: 'grant_type=client_credentials&grant_type=client_credentials' }, 'invalid_request'],
      [{ ...form({ grant_type: 'client_credentials', scope: 'admin' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'invalid_scope'],
      [{ ...form({ grant_type: 'client_credentials', resource: 'not a uri' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'invalid_target'],
      [{ ...form({ grant_type: 'client_credentials', authorization_details: '[{"type":"other"}]' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'invalid_authorization_details'],
      [{ ...form({ grant_type: 'client_credentials', authorization_details: '{nope' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'invalid_authorization_details'],
      [{ ...form({ grant_type: 'authorization_code', code: 'x' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } }, 'unauthorized_client'],
    ];
    for (const [init, error] of cases) {
      const res = await h.fetch('/auth/acme/token', init);
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status} for ${error}`);
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(body.error, error);
      assert.equal(typeof body.error_description, 'string');
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
  });

  it('carries authorization_details into the token and introspection (RFC 9396)', async () => {
    const details = [{ type: 'payment', amount: '10.00', currency: 'EUR' }];
    const res = await token('acme', { grant_type: 'client_credentials', authorization_details: JSON.stringify(details) }, basicAuth('svc', secret));
    const body = (await res.json()) as { access_token: string; authorization_details: unknown };
    assert.deepEqual(body.authorization_details, details);
    assert.deepEqual(decodeJwt(body.access_token).authorization_details, details);
    const intro = await h.fetch('/auth/acme/introspect', { ...form({ token: body.access_token }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } });
    const info = (await intro.json()) as Record<string, unknown>;
    assert.equal(info.active, true);
    assert.deepEqual(info.authorization_details, details);
  });

  it('revokes an access token so introspection reports it inactive (RFC 7009)', async () => {
    const res = await token('acme', { grant_type: 'client_credentials' }, basicAuth('svc', secret));
    const { access_token } = (await res.json()) as { access_token: string };
    const auth = { ...form({}).headers, authorization: basicAuth('svc', secret) };
    const rev = await h.fetch('/auth/acme/revoke', { ...form({ token: access_token }), headers: auth });
    assert.equal(rev.status, 200);
    const intro = await h.fetch('/auth/acme/introspect', { ...form({ token: access_token }), headers: auth });
    assert.deepEqual(await intro.json(), { active: false });
  });

  it('authenticates private_key_jwt once per jti and refuses alg none and HS256 keyed with the public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
    await makeClient(tdb.database.db, acme, { client_id: 'pkj', grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk as { kty: string }] }, scope: 'read' });
    const aud = `${h.baseUrl}/auth/acme/token`;
    const assertion = await new SignJWT({ jti: 'one' }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).setIssuer('pkj').setSubject('pkj').setAudience(aud).setExpirationTime('2m').setIssuedAt().sign(privateKey);
    const params = { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
    assert.equal((await token('acme', params)).status, 200);
    const replay = await token('acme', params);
    assert.equal(replay.status, 401);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: 'pkj', sub: 'pkj', aud, exp: now + 60, jti: 'none' };
    const none = `${enc({ alg: 'none' })}.${enc(payload)}.`;
    assert.equal((await token('acme', { ...params, client_assertion: none })).status, 401);
    const hs = await new SignJWT({ ...payload, jti: 'hs' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(JSON.stringify(jwk)));
    assert.equal((await token('acme', { ...params, client_assertion: hs })).status, 401);
    const wrongAud = await new SignJWT({ jti: 'aud' }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).setIssuer('pkj').setSubject('pkj').setAudience('https://elsewhere/').setExpirationTime('2m').sign(privateKey);
    assert.equal((await token('acme', { ...params, client_assertion: wrongAud })).status, 401);
  });
  it('stops honouring a client once its secret is rotated or it is deleted, even right after a grant cached it', async () => {
    const { secret: old } = (await makeClient(tdb.database.db, acme, { client_id: 'short-lived', grant_types: ['client_credentials'] })) as { secret: string };
    const grant = () => token('acme', { grant_type: 'client_credentials' }, basicAuth('short-lived', old));
    assert.equal((await grant()).status, 200);
    assert.equal((await grant()).status, 200);
    await tdb.database.db.execute(sql`update auth.clients set secret_hash = ${'0'.repeat(64)} where client_id = 'short-lived'`);
    await eventually('the rotated secret to be refused', async () => (await grant()).status === 401);
    await tdb.database.db.execute(sql`delete from auth.clients where client_id = 'short-lived'`);
    const gone = await grant();
    assert.equal(gone.status, 401);
    assert.equal(((await gone.json()) as { error: string }).error, 'invalid_client');
  });
});
