// CORS for browser clients (web/cors.ts): preflights answered for any origin, answers readable
// only by an origin of the client's redirect URIs, and a request from another origin refused
// before its grant spends anything.
// @see https://fetch.spec.whatwg.org/#http-cors-protocol
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeWebClientFixture } from '../testing/fixtures.js';
import { clientMetadataSchema } from '../core/client-metadata.js';
import { mintCode } from '../testing/grants.js';
import type { Client, Tenant, User } from '../core/schema.js';

const REDIRECT = 'https://app.example.com/callback';
const APP = 'https://app.example.com';

describe('CORS of the token endpoint and the public documents', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let client: Client;
  let user: User;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase();
    ({ tenant, user, client, secret } = await makeWebClientFixture(tdb.database.db, 'acme', { username: 'alice', redirectUri: REDIRECT, scope: 'openid' }));
    h = await startAuthHarness(tdb.database);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const exchange = (code: string, origin?: string) => {
    const body = form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    return h.fetch('/auth/acme/token', { ...body, headers: { ...body.headers, authorization: basicAuth('web', secret), ...(origin ? { origin } : {}) } });
  };

  it('answers a preflight of the token endpoint for a well-formed origin, and none for an opaque one', async () => {
    const res = await h.fetch('/auth/acme/token', { method: 'OPTIONS', headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, dpop' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://anywhere.example');
    assert.equal(res.headers.get('access-control-allow-methods'), 'POST');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /\bdpop\b/);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
    const opaque = await h.fetch('/auth/acme/revoke', { method: 'OPTIONS', headers: { origin: 'null', 'access-control-request-method': 'POST' } });
    assert.equal(opaque.status, 204);
    assert.equal(opaque.headers.get('access-control-allow-origin'), null);
  });

  it('lets the origin of a redirect URI read the tokens, and the DPoP nonce field', async () => {
    const res = await exchange(await mintCode(tdb.database.db, tenant, client, user, REDIRECT, 'openid'), APP);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /dpop-nonce/);
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    assert.ok(((await res.json()) as { access_token?: string }).access_token);
  });

  it('lets that origin read an error too', async () => {
    const res = await exchange('not-a-code', APP);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
  });

  for (const [what, origin] of [
    ['another site', 'https://evil.example'],
    ['another port of the same host', 'https://app.example.com:8443'],
    ['plain http for an https redirect URI', 'http://app.example.com'],
    ['an origin with a path', 'https://app.example.com/callback'],
    ['the opaque origin', 'null'],
  ] as const) {
    it(`refuses a browser request from ${what} with 403 before the code is spent`, async () => {
      const code = await mintCode(tdb.database.db, tenant, client, user, REDIRECT, 'openid');
      const refused = await exchange(code, origin);
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { error: string }).error, 'invalid_request');
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      // The code was not consumed: the client's own origin can still redeem it, once.
      assert.equal((await exchange(code, APP)).status, 200);
      assert.equal((await exchange(code, APP)).status, 400);
    });
  }

  it('serves a request without an Origin field (a server) as before, with no CORS fields', async () => {
    const res = await exchange(await mintCode(tdb.database.db, tenant, client, user, REDIRECT, 'openid'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  it('serves exactly the allowed_origins of a client that sets them, and no longer its redirect URIs\' origins', async () => {
    const { client: spa, secret: spaSecret } = await makeClient(tdb.database.db, tenant, {
      client_id: 'spa',
      redirect_uris: [REDIRECT],
      allowed_origins: ['https://spa.example', 'http://localhost:5173'],
      grant_types: ['authorization_code'],
      scope: 'openid',
    });
    const redeem = async (origin: string) => {
      const code = await mintCode(tdb.database.db, tenant, spa, user, REDIRECT, 'openid');
      const body = form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      return h.fetch('/auth/acme/token', { ...body, headers: { ...body.headers, authorization: basicAuth('spa', spaSecret!), origin } });
    };
    const ok = await redeem('http://localhost:5173');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    assert.equal((await redeem(APP)).status, 403);
    assert.equal((await redeem('https://spa.example.evil.example')).status, 403);
  });

  it('refuses allowed_origins that are not origins', () => {
    for (const bad of ['https://spa.example/', 'https://spa.example/app', 'http://spa.example', 'null', '*', 'https://*.example']) {
      const r = clientMetadataSchema.safeParse({ redirect_uris: [REDIRECT], allowed_origins: [bad] });
      assert.equal(r.success, false, bad);
    }
    assert.equal(clientMetadataSchema.safeParse({ redirect_uris: [REDIRECT], allowed_origins: ['https://spa.example:8443'] }).success, true);
  });

  it('answers a preflight of UserInfo, and lets only the token\'s client\'s origins read it', async () => {
    const pre = await h.fetch('/auth/acme/userinfo', { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST');
    const tokens = (await (await exchange(await mintCode(tdb.database.db, tenant, client, user, REDIRECT, 'openid'))).json()) as { access_token: string };
    const read = (origin: string) => h.fetch('/auth/acme/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}`, origin } });
    const mine = await read(APP);
    assert.equal(mine.status, 200);
    assert.equal(mine.headers.get('access-control-allow-origin'), APP);
    await mine.arrayBuffer();
    const other = await read('https://evil.example');
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    await other.arrayBuffer();
  });

  it('lets any origin read the discovery document and the keys', async () => {
    for (const path of ['/auth/acme/.well-known/openid-configuration', '/auth/acme/jwks']) {
      const res = await h.fetch(path, { headers: { origin: 'https://anywhere.example' } });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
      await res.arrayBuffer();
    }
  });
});
