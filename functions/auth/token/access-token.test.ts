import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, jwtVerify, type JWK } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant } from '../testing/fixtures.js';

/** The three parts of a compact JWS, the first two decoded. */
function parts(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; segments: string[] } {
  const segments = jwt.split('.');
  assert.equal(segments.length, 3);
  const decode = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(segments[0]!), claims: decode(segments[1]!), segments };
}

describe('client-credentials access tokens over a real socket (RFC 9068)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const acme = await makeTenant(tdb.database.db, 'acme');
    ({ secret } = (await makeClient(tdb.database.db, acme, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read write' })) as { secret: string });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const grant = async (body: Record<string, string>) => {
    const res = await h.fetch('/auth/acme/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('svc', secret) } });
    assert.equal(res.status, 200);
    return (await res.json()) as { access_token: string; expires_in: number; scope: string };
  };

  it('verifies with jose against the published JWKS, with exactly the RFC 9068 header and claims', async () => {
    const issuer = `${h.baseUrl}/auth/acme`;
    const body = await grant({ grant_type: 'client_credentials' });
    const jwks = (await (await h.fetch('/auth/acme/jwks')).json()) as { keys: JWK[] };
    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), {
      issuer,
      audience: issuer,
      typ: 'at+jwt',
      algorithms: ['EdDSA'],
    });

    const { header, claims } = parts(body.access_token);
    const edKey = jwks.keys.find((k) => k.alg === 'EdDSA')!;
    assert.deepEqual(header, { alg: 'EdDSA', typ: 'at+jwt', kid: await calculateJwkThumbprint(edKey, 'sha256') });
    assert.deepEqual(protectedHeader, header);
    assert.deepEqual(Object.keys(claims), ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope']);
    assert.deepEqual(payload, claims);
    assert.equal(claims.sub, 'svc');
    assert.equal(claims.client_id, 'svc');
    assert.equal(claims.aud, issuer);
    assert.equal(claims.scope, 'read write');
    assert.equal(body.scope, 'read write');
    assert.equal((claims.exp as number) - (claims.iat as number), body.expires_in);
    assert.match(claims.jti as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('signs every token afresh under the same header: new jti, new signature, audiences from resource', async () => {
    const a = parts((await grant({ grant_type: 'client_credentials', scope: 'read' })).access_token);
    const b = parts((await grant({ grant_type: 'client_credentials', scope: 'read', resource: 'https://api.example.com/' })).access_token);
    assert.equal(a.segments[0], b.segments[0]);
    assert.notEqual(a.claims.jti, b.claims.jti);
    assert.notEqual(a.segments[2], b.segments[2]);
    assert.equal(a.claims.scope, 'read');
    assert.equal(b.claims.aud, 'https://api.example.com/');
    assert.equal(decodeJwt(a.segments.join('.')).aud, `${h.baseUrl}/auth/acme`);
  });

  it('answers any other method on the three endpoints with 405 and Allow: POST', async () => {
    // The routes published to the gateway admit POST and OPTIONS (a CORS preflight, cors.test.ts);
    // the function itself refuses the rest too.
    const app = h.hosted.find((x) => x.declaration.name === 'auth-token')!.app;
    for (const endpoint of ['token', 'introspect', 'revoke']) {
      const options = await h.fetch(`/auth/acme/${endpoint}`, { method: 'OPTIONS' });
      assert.equal(options.status, 204, `OPTIONS ${endpoint}`);
      assert.equal(options.headers.get('allow'), 'OPTIONS, POST');
      for (const [method, send] of [['GET', app.request], ['PUT', app.request], ['DELETE', app.request]] as const) {
        const res = await send(`/auth/acme/${endpoint}`, { method });
        assert.equal(res.status, 405, `${method} ${endpoint}`);
        assert.equal(res.headers.get('allow'), 'POST');
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      }
    }
  });

  it('keeps its routes on Hono\'s RegExpRouter (a pattern the router cannot compile makes every request slower)', async () => {
    const app = h.hosted.find((x) => x.declaration.name === 'auth-token')!.app;
    app.router.match('POST', '/auth/acme/token');
    assert.equal((app.router as unknown as { activeRouter: { name: string } }).activeRouter.name, 'RegExpRouter');
  });
});
