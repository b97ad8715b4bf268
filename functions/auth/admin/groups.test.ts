import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant, makeUser } from '../testing/fixtures.js';

type Json = Record<string, any>;

describe('admin API /auth/admin/tenants/{tenant}/groups', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  const call = async (method: string, path: string, body?: unknown, auth = token) => {
    const res = await h.fetch(`/auth/admin/tenants${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    await makeTenant(tdb.database.db, 'acme');
    await makeTenant(tdb.database.db, 'globex');
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('creates, nests, lists, renames and deletes groups, emitting each change', async () => {
    const tenant = (await tdb.database.query<{ id: string }>(sql`select id from auth.tenants where slug = 'acme'`))[0]!;
    const user = await makeUser(tdb.database.db, { id: tenant.id } as never, { username: 'ann' });
    const eng = await call('POST', '/acme/groups', { displayName: 'eng' });
    assert.equal(eng.status, 201);
    const backend = await call('POST', '/acme/groups', { displayName: 'eng-backend' });
    assert.equal((await call('POST', '/acme/groups', { displayName: 'eng' })).status, 409);
    assert.equal((await call('POST', '/acme/groups', { displayName: '' })).status, 422);
    assert.equal((await call('POST', `/acme/groups/${eng.body.id}/members`, { members: [{ value: backend.body.id, type: 'Group' }] })).status, 204);
    assert.equal((await call('POST', `/acme/groups/${backend.body.id}/members`, { members: [{ value: user.id }] })).status, 204);
    const cycle = await call('POST', `/acme/groups/${backend.body.id}/members`, { members: [{ value: eng.body.id, type: 'Group' }] });
    assert.equal(cycle.status, 409);
    assert.equal(cycle.body.code, 'group_cycle');
    assert.deepEqual(cycle.body.cycle, [backend.body.id, eng.body.id, backend.body.id]);
    assert.equal((await call('POST', `/acme/groups/${eng.body.id}/members`, { members: [{ value: '00000000-0000-4000-8000-000000000000' }] })).status, 422);
    const effective = await call('GET', `/acme/users/${user.id}/groups`);
    assert.deepEqual(effective.body.groups.map((g: Json) => [g.displayName, g.direct]), [['eng', false], ['eng-backend', true]]);
    const got = await call('GET', `/acme/groups/${eng.body.id}`);
    assert.deepEqual(got.body.members.map((m: Json) => [m.value, m.type]), [[backend.body.id, 'Group']]);
    const renamed = await call('PATCH', `/acme/groups/${eng.body.id}`, { displayName: 'engineering' });
    assert.equal(renamed.body.displayName, 'engineering');
    assert.equal((await call('PATCH', `/acme/groups/${eng.body.id}`, { displayName: 'eng-backend' })).status, 409);
    assert.equal((await call('DELETE', `/acme/groups/${backend.body.id}/members/${user.id}`)).status, 204);
    assert.deepEqual((await call('GET', `/acme/users/${user.id}/groups`)).body.groups, []);
    assert.equal((await call('DELETE', `/acme/groups/${backend.body.id}`)).status, 204);
    assert.equal((await call('GET', `/acme/groups/${eng.body.id}`)).body.members.length, 0);
    const events = await tdb.database.query<{ type: string }>(sql`select type from auth.outbox where type like 'io.zenokube.auth.group.%' order by seq`);
    assert.deepEqual(events.map((e) => e.type.split('.').pop()), ['created', 'created', 'membership-changed', 'membership-changed', 'updated', 'membership-changed', 'deleted']);
  });

  it('keeps tenants apart and refuses a caller without the admin token', async () => {
    const g = await call('POST', '/acme/groups', { displayName: 'private' });
    assert.equal((await call('GET', `/globex/groups/${g.body.id}`)).status, 404);
    assert.equal((await call('DELETE', `/globex/groups/${g.body.id}`)).status, 404);
    assert.equal((await call('GET', '/acme/groups', undefined, 'forged')).status, 401);
  });
});
