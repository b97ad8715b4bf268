import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant, makeUser } from '../testing/fixtures.js';
import { createMfaSecrets } from '../core/mfa-secrets.js';
import { insertPasskey } from '../core/passkeys.js';

describe('admin API: WebAuthn relying party and passkeys of a user', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  const call = (method: string, path: string, body?: unknown, bearer = token) =>
    h.fetch(`/auth/admin${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    token = ((await res.json()) as { access_token: string }).access_token;
    await makeTenant(tdb.database.db, 'rp');
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('defaults to the host and origin of the public base URL', async () => {
    const res = await call('GET', '/tenants/rp/webauthn');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { rp_id: null, origins: [], user_verification: 'preferred', attestation: 'none', effective: { rp_id: 'localhost', origins: ['http://localhost:8080'] } });
  });

  it('sets an RP ID with origins below it, and refuses origins it cannot serve', async () => {
    const ok = await call('PUT', '/tenants/rp/webauthn', { rp_id: 'example.com', origins: ['https://login.example.com', 'https://example.com'], user_verification: 'required', attestation: 'direct' });
    assert.equal(ok.status, 200);
    const got = (await (await call('GET', '/tenants/rp/webauthn')).json()) as { effective: { rp_id: string; origins: string[] } };
    assert.deepEqual(got.effective, { rp_id: 'example.com', origins: ['https://login.example.com', 'https://example.com'] });
    for (const origins of [['https://example.org'], ['http://login.example.com'], ['https://notexample.com'], ['https://login.example.com/path'], ['not a url']]) {
      const res = await call('PUT', '/tenants/rp/webauthn', { rp_id: 'example.com', origins });
      assert.equal(res.status, 422, origins[0]);
      assert.equal(((await res.json()) as { code: string }).code, 'invalid_origin');
    }
    assert.equal((await call('PUT', '/tenants/rp/webauthn', { user_verification: 'sometimes' })).status, 422);
    assert.equal((await call('PUT', '/tenants/rp/webauthn', { rp_id: 'Bad Host' })).status, 422);
    assert.equal((await call('GET', '/tenants/rp/webauthn', undefined, 'not-a-token')).status, 401);
    const [audited] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'tenant.webauthn.updated'`);
    assert.equal(audited!.n, 1);
  });

  it("lists and removes a user's passkeys, never another tenant's", async () => {
    const tenant = (await tdb.database.query<{ id: string }>(sql`select id from auth.tenants where slug = 'rp'`))[0]!;
    const user = await makeUser(tdb.database.db, { id: tenant.id } as never, { username: 'ann' });
    await makeTenant(tdb.database.db, 'other');
    const mfa = createMfaSecrets(Buffer.alloc(32, 1));
    const key = await insertPasskey(tdb.database.db, mfa, { tenantId: tenant.id, userId: user.id, credentialId: 'AAAA', publicKey: 'BBBB', counter: 0, transports: ['internal'], deviceType: 'multiDevice', backedUp: true, aaguid: '00000000-0000-0000-0000-000000000000', attestationFormat: 'none', name: 'Phone' });
    const list = (await (await call('GET', `/tenants/rp/users/${user.id}/passkeys`)).json()) as { passkeys: { id: string; name: string; device_type: string }[] };
    assert.deepEqual(list.passkeys.map((p) => [p.id, p.name, p.device_type]), [[key!.id, 'Phone', 'multiDevice']]);
    assert.equal((await call('GET', `/tenants/other/users/${user.id}/passkeys`)).status, 404);
    assert.equal((await call('DELETE', `/tenants/other/users/${user.id}/passkeys/${key!.id}`)).status, 404);
    assert.equal((await call('GET', '/tenants/rp/users/not-a-uuid/passkeys')).status, 404);
    assert.equal((await call('DELETE', `/tenants/rp/users/${user.id}/passkeys/${key!.id}`)).status, 204);
    assert.equal((await call('DELETE', `/tenants/rp/users/${user.id}/passkeys/${key!.id}`)).status, 404);
  });
});
