import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { driverError } from '#shared/db/errors';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { addMembers, deleteGroup, GroupRuleError, insertGroup, removeMembers } from './groups.js';
import { directMembersOf, effectiveGroupsOf, effectiveMembersOf } from './membership.js';
import type { Group, Tenant } from './schema.js';

/** The database refused with this SQLSTATE (under drizzle's wrapping). */
const refusedWith = (code: string) => (e: unknown) => (driverError(e) as { code?: string }).code === code;

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

describe('nested groups (core/groups, core/membership, migration 0004)', () => {
  let tdb: TestDatabase;
  let tenant: Tenant;
  let other: Tenant;
  let n = 0;
  const group = async (t: Tenant = tenant): Promise<Group> => {
    const g = await insertGroup(tdb.database.db, t.id, { displayName: `g${++n}` });
    assert.ok(g);
    return g;
  };
  const nest = (parent: Group, child: Group) => addMembers(tdb.database.db, tenant.id, parent.id, [{ value: child.id, type: 'Group' }]);

  before(async () => {
    tdb = await createTestDatabase();
    tenant = await makeTenant(tdb.database.db, 'acme');
    other = await makeTenant(tdb.database.db, 'globex');
  });
  after(async () => {
    await tdb.drop();
  });

  it('resolves a user of a depth-10 chain into all ten groups, only the lowest direct', async () => {
    const chain: Group[] = [];
    for (let i = 0; i < 10; i++) chain.push(await group());
    for (let i = 0; i < 9; i++) await nest(chain[i]!, chain[i + 1]!);
    const user = await makeUser(tdb.database.db, tenant, { username: 'deep' });
    await addMembers(tdb.database.db, tenant.id, chain[9]!.id, [{ value: user.id, type: 'User' }]);
    const eff = await effectiveGroupsOf(tdb.database.db, tenant.id, user.id);
    assert.deepEqual(new Set(eff.map((g) => g.id)), new Set(chain.map((g) => g.id)));
    assert.deepEqual(eff.filter((g) => g.direct).map((g) => g.id), [chain[9]!.id]);
    assert.deepEqual(await effectiveMembersOf(tdb.database.db, tenant.id, chain[0]!.id), [user.id]);
  });

  it('lists a diamond top once, as indirect, and a group reached both ways as direct', async () => {
    const [top, left, right, bottom] = [await group(), await group(), await group(), await group()];
    await nest(top, left);
    await nest(top, right);
    await nest(left, bottom);
    await nest(right, bottom);
    const user = await makeUser(tdb.database.db, tenant, { username: 'diamond' });
    await addMembers(tdb.database.db, tenant.id, bottom.id, [{ value: user.id, type: 'User' }]);
    await addMembers(tdb.database.db, tenant.id, left.id, [{ value: user.id, type: 'User' }]);
    const eff = await effectiveGroupsOf(tdb.database.db, tenant.id, user.id);
    assert.equal(eff.length, 4);
    assert.deepEqual(Object.fromEntries(eff.map((g) => [g.id, g.direct])), { [top.id]: false, [left.id]: true, [right.id]: false, [bottom.id]: true });
    const direct = await directMembersOf(tdb.database.db, [top.id, left.id]);
    assert.deepEqual(direct.get(top.id)!.map((m) => m.type), ['Group', 'Group']);
    assert.deepEqual(direct.get(left.id)!.map((m) => m.type).sort(), ['Group', 'User']);
  });

  it('refuses a group containing itself', async () => {
    const g = await group();
    await assert.rejects(nest(g, g), (e: unknown) => e instanceof GroupRuleError && e.code === 'cycle' && e.cycle.includes(g.id));
  });

  it('refuses a direct loop and a ten-group loop, naming every group of the loop', async () => {
    const [a, b] = [await group(), await group()];
    await nest(a, b);
    await assert.rejects(nest(b, a), (e: unknown) => e instanceof GroupRuleError && e.code === 'cycle' && e.cycle.length === 3);
    const ring: Group[] = [];
    for (let i = 0; i < 10; i++) ring.push(await group());
    for (let i = 0; i < 9; i++) await nest(ring[i]!, ring[i + 1]!);
    await assert.rejects(nest(ring[9]!, ring[0]!), (e: unknown) => {
      assert.ok(e instanceof GroupRuleError);
      assert.equal(e.code, 'cycle');
      assert.deepEqual(e.cycle, [ring[9]!.id, ...ring.map((g) => g.id)]);
      return true;
    });
  });

  it('refuses a cycle written straight into the table, by INSERT or by UPDATE', async () => {
    const [a, b, c] = [await group(), await group(), await group()];
    await nest(a, b);
    await nest(b, c);
    await assert.rejects(tdb.database.query(sql`insert into auth.group_nesting (parent_id, child_id) values (${c.id}, ${a.id})`), refusedWith('ZG001'));
    const d = await group();
    await nest(c, d);
    await assert.rejects(tdb.database.query(sql`update auth.group_nesting set child_id = ${a.id} where parent_id = ${c.id}`), refusedWith('ZG001'));
    const rows = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.group_nesting where parent_id = ${c.id} and child_id = ${a.id}`);
    assert.equal(rows[0]!.n, 0);
  });

  it('refuses nesting and membership across tenants, even written straight into the tables', async () => {
    const mine = await group();
    const theirs = await group(other);
    await assert.rejects(tdb.database.query(sql`insert into auth.group_nesting (parent_id, child_id) values (${mine.id}, ${theirs.id})`), refusedWith('ZG002'));
    const stranger = await makeUser(tdb.database.db, other, { username: 'stranger' });
    await assert.rejects(tdb.database.query(sql`insert into auth.group_members (group_id, user_id) values (${mine.id}, ${stranger.id})`), refusedWith('ZG002'));
    // Through the queries, a member of another tenant is simply unknown.
    assert.deepEqual(await addMembers(tdb.database.db, tenant.id, mine.id, [{ value: theirs.id, type: 'Group' }]), { unknown: [theirs.id] });
  });

  it('lets only one of two concurrent transactions adding A->B and B->A commit', async () => {
    const [a, b] = [await group(), await group()];
    const one = postgres(tdb.url, { max: 1, onnotice: () => {} });
    const two = postgres(tdb.url, { max: 1, onnotice: () => {} });
    try {
      let releaseOne!: () => void;
      const oneHolds = new Promise<void>((r) => (releaseOne = r));
      let oneInserted!: () => void;
      const inserted = new Promise<void>((r) => (oneInserted = r));
      const first = one.begin(async (tx) => {
        await tx`insert into auth.group_nesting (parent_id, child_id) values (${a.id}, ${b.id})`;
        oneInserted();
        await oneHolds;
      });
      await inserted;
      const second = two.begin(async (tx) => {
        await tx`insert into auth.group_nesting (parent_id, child_id) values (${b.id}, ${a.id})`;
      });
      second.catch(() => {});
      // The second waits on the tenant's lock until the first commits.
      await waitFor(async () => {
        const rows = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%group_nesting%'`);
        return rows[0]!.n === 1;
      });
      releaseOne();
      await first;
      await assert.rejects(second, (e: unknown) => (e as { code?: string }).code === 'ZG001');
      const rows = await tdb.database.query<{ parent_id: string }>(sql`select parent_id from auth.group_nesting where (parent_id, child_id) in ((${a.id}::uuid, ${b.id}::uuid), (${b.id}::uuid, ${a.id}::uuid))`);
      assert.deepEqual(rows.map((r) => r.parent_id), [a.id]);
    } finally {
      await one.end();
      await two.end();
    }
  });

  it('refuses a nesting change at REPEATABLE READ, whose snapshot could miss a concurrent edge', async () => {
    const [a, b] = [await group(), await group()];
    await assert.rejects(
      tdb.database.transaction(async (tx) => tx.execute(sql`insert into auth.group_nesting (parent_id, child_id) values (${a.id}, ${b.id})`), { isolationLevel: 'repeatable read' }),
      refusedWith('ZG003'),
    );
  });

  it('removes a deleted group from every group it belonged to and drops its members', async () => {
    const [parent, mid, child] = [await group(), await group(), await group()];
    await nest(parent, mid);
    await nest(mid, child);
    const user = await makeUser(tdb.database.db, tenant, { username: 'leaf' });
    await addMembers(tdb.database.db, tenant.id, child.id, [{ value: user.id, type: 'User' }]);
    assert.equal((await effectiveGroupsOf(tdb.database.db, tenant.id, user.id)).length, 3);
    await deleteGroup(tdb.database.db, tenant.id, mid.id);
    assert.deepEqual((await effectiveGroupsOf(tdb.database.db, tenant.id, user.id)).map((g) => g.id), [child.id]);
    const left = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.group_nesting where parent_id = ${mid.id} or child_id = ${mid.id}`);
    assert.equal(left[0]!.n, 0);
    await removeMembers(tdb.database.db, child.id, [user.id]);
    assert.deepEqual(await effectiveGroupsOf(tdb.database.db, tenant.id, user.id), []);
  });

  it('bumps a group version on every update', async () => {
    const g = await group();
    await tdb.database.query(sql`update auth.groups set display_name = 'renamed-x' where id = ${g.id}`);
    await tdb.database.query(sql`update auth.groups set display_name = 'renamed-y' where id = ${g.id}`);
    const rows = await tdb.database.query<{ version: number }>(sql`select version from auth.groups where id = ${g.id}`);
    assert.equal(rows[0]!.version, 3);
  });
});
