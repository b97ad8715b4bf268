// The password policy (length, username, breach list) on passwords set by the admin API and by
// SCIM: refused in each API's own error shape, before anything is hashed or written.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { mintScimToken } from '../core/scim-tokens.js';
import { verifyPassword } from '../core/passwords.js';
import { BREACH_FIXTURE } from '../testing/breach-fixture.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant } from '../testing/fixtures.js';

type Json = Record<string, any>;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
/** In the breach fixture. */
const BREACHED = 'password1234';

describe('password policy on the admin API and SCIM (NIST SP 800-63B §5.1.1.2)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let adminToken: string;
  let scimToken: string;
  const hashOf = async (username: string) => (await tdb.database.query<{ password_hash: string | null }>(sql`select password_hash from auth.users where username = ${username}`))[0]?.password_hash;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await h.fetch(`/auth/admin/tenants/pw${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json().catch(() => undefined)) as Json };
  };
  const scim = async (method: string, path: string, body?: unknown) => {
    const res = await h.fetch(`/auth/pw/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${scimToken}`, ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json().catch(() => undefined)) as Json };
  };
  const assertWeak = (r: { status: number; type: string | null; body: Json }, password: string) => {
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.type, 'application/problem+json');
    assert.equal(r.body.code, 'weak_password');
    assert.ok(!JSON.stringify(r.body).includes(password), 'the answer never repeats the password');
  };
  const assertScimInvalid = (r: { status: number; type: string | null; body: Json }, password: string) => {
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.type, 'application/scim+json');
    assert.deepEqual(r.body.schemas, [ERROR]);
    assert.equal(r.body.status, '400');
    assert.equal(r.body.scimType, 'invalidValue');
    assert.ok(!JSON.stringify(r.body).includes(password), 'the answer never repeats the password');
  };

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { env: { ZENO_AUTH_BREACHED_PASSWORDS_FILE: BREACH_FIXTURE } });
    const tenant = await makeTenant(tdb.database.db, 'pw');
    scimToken = (await mintScimToken(tdb.database.db, tenant.id, 'entra')).token;
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  describe('admin API', () => {
    it('refuses a breached, short or username password on creation with problem+json, creating nothing', async () => {
      assertWeak(await admin('POST', '/users', { username: 'wile', password: BREACHED }), BREACHED);
      assertWeak(await admin('POST', '/users', { username: 'wile', password: 'ninechars' }), 'ninechars');
      assertWeak(await admin('POST', '/users', { username: 'wile.e.coyote', password: 'Wile.E.Coyote' }), 'Wile.E.Coyote');
      assert.equal(await hashOf('wile'), undefined);
      assert.equal(await hashOf('wile.e.coyote'), undefined);
      // The schema's own bounds still answer first (422), as before.
      assert.equal((await admin('POST', '/users', { username: 'wile', password: 'x'.repeat(1025) })).status, 422);
      assert.equal((await admin('POST', '/users', { username: 'wile', password: 12345678901 })).status, 422);
      const ok = await admin('POST', '/users', { username: 'wile', password: 'acme-rockets-1' });
      assert.equal(ok.status, 201);
      assert.ok(await verifyPassword((await hashOf('wile'))!, 'acme-rockets-1'));
    });

    it('refuses a weak new password on PATCH and keeps the old one', async () => {
      const id = (await tdb.database.query<{ id: string }>(sql`select id from auth.users where username = 'wile'`))[0]!.id;
      const before = await hashOf('wile');
      assertWeak(await admin('PATCH', `/users/${id}`, { password: BREACHED }), BREACHED);
      assertWeak(await admin('PATCH', `/users/${id}`, { password: 'ninechars', name: 'W' }), 'ninechars');
      assert.equal(await hashOf('wile'), before);
      assert.equal((await admin('PATCH', `/users/00000000-0000-4000-8000-000000000000`, { password: 'acme-rockets-2' })).status, 404);
      assert.equal((await admin('PATCH', `/users/${id}`, { password: 'acme-rockets-2' })).status, 200);
      assert.ok(await verifyPassword((await hashOf('wile'))!, 'acme-rockets-2'));
    });
  });

  describe('SCIM /Users (RFC 7644 §3.12 invalidValue)', () => {
    it('refuses a weak password on POST in the SCIM error shape, creating nothing', async () => {
      assertScimInvalid(await scim('POST', '/Users', { schemas: [USER], userName: 'roadrunner', password: BREACHED }), BREACHED);
      assertScimInvalid(await scim('POST', '/Users', { schemas: [USER], userName: 'roadrunner', password: 'ninechars' }), 'ninechars');
      assertScimInvalid(await scim('POST', '/Users', { schemas: [USER], userName: 'roadrunner1', password: 'RoadRunner1' }), 'RoadRunner1');
      assert.equal(await hashOf('roadrunner'), undefined);
    });

    it('refuses a weak password on PUT and PATCH and keeps the old one', async () => {
      const created = await scim('POST', '/Users', { schemas: [USER], userName: 'roadrunner', password: 'meep-meep-meep' });
      assert.equal(created.status, 201);
      const id = created.body.id as string;
      const before = await hashOf('roadrunner');
      assertScimInvalid(await scim('PUT', `/Users/${id}`, { schemas: [USER], userName: 'roadrunner', password: BREACHED }), BREACHED);
      assertScimInvalid(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'password', value: BREACHED }] }), BREACHED);
      assertScimInvalid(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { password: 'roadrunner' } }] }), 'roadrunner');
      assert.equal(await hashOf('roadrunner'), before);
      const ok = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'password', value: 'beep-beep-beep' }] });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.ok(await verifyPassword((await hashOf('roadrunner'))!, 'beep-beep-beep'));
    });

    it('refuses a weak password inside a bulk request, operation by operation', async () => {
      const r = await scim('POST', '/Bulk', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [
          { method: 'POST', bulkId: 'a', path: '/Users', data: { schemas: [USER], userName: 'bulk-weak', password: BREACHED } },
          { method: 'POST', bulkId: 'b', path: '/Users', data: { schemas: [USER], userName: 'bulk-fine', password: 'a-fine-password-1' } },
        ],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const [weak, fine] = r.body.Operations as Json[];
      assert.equal(weak!.status, '400');
      assert.equal(weak!.response.scimType, 'invalidValue');
      assert.equal(fine!.status, '201');
      assert.equal(await hashOf('bulk-weak'), undefined);
    });
  });
});
