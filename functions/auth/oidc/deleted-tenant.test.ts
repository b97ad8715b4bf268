// A tenant deleted while another function's resolver still holds it: its JWKS is unknown (404),
// not a failure to create keys for a tenant that is gone (500).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant } from '../testing/fixtures.js';

describe('GET {issuer}/jwks of a deleted tenant', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('answers 404 in the OAuth shape while the deleted tenant is still cached, and stays unknown', async () => {
    await makeTenant(tdb.database.db, 'gone');
    // The oidc function resolves (and caches) the tenant.
    assert.equal((await h.fetch('/auth/gone/jwks')).status, 200);
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    const token = ((await res.json()) as { access_token: string }).access_token;
    assert.equal((await h.fetch('/auth/admin/tenants/gone', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status, 204);
    for (let i = 0; i < 2; i++) {
      const jwks = await h.fetch('/auth/gone/jwks');
      assert.equal(jwks.status, 404);
      assert.equal(((await jwks.json()) as { error: string }).error, 'invalid_request');
    }
    const keys = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.signing_keys sk where not exists (select 1 from auth.tenants t where t.id = sk.tenant_id)`);
    assert.equal(keys[0]!.n, 0, 'no key was made for the deleted tenant');
  });
});
