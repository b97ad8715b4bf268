import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form } from '../testing/fixtures.js';

describe('admin API: audience check (RFC 9068 §4) and client secret rotation', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  const adminToken = async (extra: Record<string, string> = {}) => {
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin', ...extra }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const call = (token: string, method: string, path: string, body?: unknown) =>
    h.fetch(`/auth/admin${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('refuses an admin token minted for another resource, and accepts the admin API as resource', async () => {
    const elsewhere = await adminToken({ resource: 'https://api.example.com/' });
    const res = await call(elsewhere, 'GET', '/tenants');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/);
    assert.equal((await call(await adminToken({ resource: `${h.baseUrl}/auth/admin` }), 'GET', '/tenants')).status, 200);
    assert.equal((await call(await adminToken(), 'GET', '/tenants')).status, 200);
  });

  it('rotates a client secret: the new one works, the old one is refused, the change is audited', async () => {
    const token = await adminToken();
    assert.equal((await call(token, 'POST', '/tenants', { slug: 'rot' })).status, 201);
    const created = (await (await call(token, 'POST', '/tenants/rot/clients', { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' })).json()) as { client_secret: string };
    const grant = (secret: string) => h.fetch('/auth/rot/token', { ...form({ grant_type: 'client_credentials' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } });
    assert.equal((await grant(created.client_secret)).status, 200);
    const rotated = await call(token, 'POST', '/tenants/rot/clients/svc/secret');
    assert.equal(rotated.status, 200);
    assert.equal(rotated.headers.get('cache-control'), 'no-store');
    const { client_secret } = (await rotated.json()) as { client_secret: string };
    assert.notEqual(client_secret, created.client_secret);
    // The token function's client cache hears of the change when the commit's NOTIFY arrives.
    let fresh = 401;
    for (let i = 0; i < 250 && fresh !== 200; i++) {
      fresh = (await grant(client_secret)).status;
      if (fresh !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(fresh, 200);
    assert.equal((await grant(created.client_secret)).status, 401);
    assert.equal((await call(token, 'POST', '/tenants/rot/clients/nobody/secret')).status, 404);
    assert.equal((await call(token, 'POST', '/tenants/system/clients/zeno-admin/secret')).status, 409);
    const [row] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'client.secret_rotated' and client_id = 'svc'`);
    assert.equal(row!.n, 1);
  });

  it('refuses to rotate the secret of a public client', async () => {
    const token = await adminToken();
    await call(token, 'POST', '/tenants', { slug: 'pub' });
    assert.equal((await call(token, 'POST', '/tenants/pub/clients', { client_id: 'spa', redirect_uris: ['http://localhost:9/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] })).status, 201);
    const res = await call(token, 'POST', '/tenants/pub/clients/spa/secret');
    assert.equal(res.status, 409);
    assert.equal(((await res.json()) as { code?: string; type?: string }).code ?? '', 'no_client_secret');
  });
});
