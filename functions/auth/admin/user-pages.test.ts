import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant } from '../testing/fixtures.js';

describe('GET /auth/admin/tenants/{t}/users: keyset pages past 1,000 users', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    const tenant = await makeTenant(tdb.database.db, 'many');
    await tdb.database.db.execute(sql`insert into auth.users (tenant_id, username) select ${tenant.id}, 'u' || lpad(i::text, 5, '0') from generate_series(1, 1234) i`);
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const list = (query: string) => h.fetch(`/auth/admin/tenants/many/users${query}`, { headers: { authorization: `Bearer ${token}` } });

  it('walks every user once, in order, page by page', async () => {
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const res = await list(`?limit=500${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { users: { username: string }[]; next?: string };
      seen.push(...body.users.map((u) => u.username));
      next = body.next;
      pages++;
    } while (next && pages < 10);
    assert.equal(pages, 3);
    assert.equal(seen.length, 1234);
    assert.equal(new Set(seen).size, 1234);
    assert.deepEqual(seen, [...seen].sort());
  });

  it('answers a bad limit or cursor with 400', async () => {
    for (const q of ['?limit=0', '?limit=1001', '?limit=abc', '?after=']) assert.equal((await list(q)).status, 400, q);
    const body = (await (await list('')).json()) as { users: unknown[]; next: string };
    assert.equal(body.users.length, 100);
    assert.equal(body.next, 'u00100');
  });
});
