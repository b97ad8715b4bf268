import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { TestDatabase } from '#tests/support/database';
import type { AuthHarness } from '../testing/harness.js';
import type { AuthRuntime } from '../core/runtime.js';
import { startPushSites, type Json, type PushSites } from '../testing/scim-push-sites.js';
import { reconcileDueTargets, reconcileTarget } from './reconcile.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

// Drift is made straight at the target (another tenant's SCIM server over a real socket, the peer
// of push.test.ts) or by losing our own bookkeeping; the reconcile must find and repair it.
describe('auth-scim-push: drift reconcile of a target (RFC 7644 §3.4.2 listing, §3.5.1 replace, §3.6 delete)', () => {
  let sites: PushSites;
  let tdb: TestDatabase;
  let h: AuthHarness;
  let rt: AuthRuntime;
  let acmeId: string;
  let globexToken: string;
  let initechToken: string;
  let targetId: string;
  const acme: PushSites['acme'] = (m, p, b) => sites.acme(m, p, b);
  const globex: PushSites['globex'] = (m, p, b) => sites.globex(m, p, b);
  const initech: PushSites['initech'] = (m, p, b) => sites.initech(m, p, b);
  const adminCall: PushSites['adminCall'] = (m, p, b) => sites.adminCall(m, p, b);
  const created: PushSites['created'] = (r) => sites.created(r);
  const settle = () => sites.settle();
  const byName: PushSites['byName'] = (t, k, a, v) => sites.byName(t, k, a, v);
  const all = async (tenant: typeof globex, kind: 'Users' | 'Groups') => (await tenant('GET', `/${kind}?count=1000`)).body.Resources as Json[];
  const reconcile = async (id = targetId) => {
    const r = await adminCall('POST', `/scim-targets/${id}/reconcile`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const drift = (o: Json) => [o.missing, o.changed, o.extra, o.relinked];

  before(async () => {
    sites = await startPushSites();
    ({ tdb, h, rt, acmeId } = sites);
    ({ globex: globexToken, initech: initechToken } = sites.tokens);
    const t = await adminCall('POST', '/scim-targets', { name: 'globex', url: `${h.baseUrl}/auth/globex/scim/v2`, token: globexToken });
    assert.equal(t.status, 201);
    targetId = t.body.id;
    const alice = await created(acme('POST', '/Users', { schemas: [USER], userName: 'alice', name: { givenName: 'Alice', familyName: 'A' }, emails: [{ value: 'alice@acme.test', primary: true }] }));
    const bob = await created(acme('POST', '/Users', { schemas: [USER], userName: 'bob', displayName: 'Bob B' }));
    await created(acme('POST', '/Users', { schemas: [USER], userName: 'carol' }));
    for (const u of ['zed', 'yan', 'u1', 'u2', 'u3']) await created(acme('POST', '/Users', { schemas: [USER], userName: u }));
    const backend = await created(acme('POST', '/Groups', { schemas: [GROUP], displayName: 'eng-backend', members: [{ value: alice.id, type: 'User' }] }));
    await created(acme('POST', '/Groups', { schemas: [GROUP], displayName: 'eng', members: [{ value: backend.id, type: 'Group' }, { value: bob.id, type: 'User' }] }));
    await settle();
  });
  after(() => sites.close());

  it('finds no drift on a target the push keeps, and records the outcome on the target', async () => {
    const o = await reconcile();
    assert.equal(o.ok, true, JSON.stringify(o));
    assert.deepEqual(drift(o), [0, 0, 0, 0], JSON.stringify(o));
    assert.deepEqual(o.listed, { users: 8, groups: 2 });
    const seen = await adminCall('GET', `/scim-targets/${targetId}`);
    assert.equal(seen.body.lastReconcile.ok, true);
    assert.ok(seen.body.lastReconcileAt);
    const [a] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'scim-target.reconciled'`);
    assert.equal(a!.n, 1);
  });

  it('repairs missing, changed and extra users, lost links and membership drift made at the target', async () => {
    const gAlice = (await byName(globex, 'Users', 'userName', 'alice'))!;
    const gBob = (await byName(globex, 'Users', 'userName', 'bob'))!;
    const gEng = (await byName(globex, 'Groups', 'displayName', 'eng'))!;
    const gBackend = (await byName(globex, 'Groups', 'displayName', 'eng-backend'))!;
    const zed = (await byName(acme, 'Users', 'userName', 'zed'))!;
    const yan = (await byName(acme, 'Users', 'userName', 'yan'))!;
    const carol = (await byName(acme, 'Users', 'userName', 'carol'))!;
    // Changed at the target: alice's name and active flag.
    assert.equal((await globex('PATCH', `/Users/${gAlice.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'name.givenName', value: 'Mallory' }, { op: 'replace', path: 'active', value: false }] })).status, 200);
    // Missing: bob deleted at the target (which also drops him from eng there).
    assert.equal((await globex('DELETE', `/Users/${gBob.id}`)).status, 204);
    // Foreign: the target's own user, not ours, put into our group; it stays, but leaves eng.
    const mallory = await created(globex('POST', '/Users', { schemas: [USER], userName: 'mallory' }));
    // Membership drift: eng-backend taken out of eng, mallory put in.
    assert.equal((await globex('PATCH', `/Groups/${gEng.id}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${gBackend.id}"]` }, { op: 'add', path: 'members', value: [{ value: mallory.id }] }] })).status, 200);
    // Extra: zed and yan deleted here without the push hearing of it (rows removed directly, as a
    // lost event would leave them). yan's link is lost too: nothing proves its copy ours, so it stays.
    await tdb.database.query(sql`delete from auth.users where id in (${zed.id}::uuid, ${yan.id}::uuid)`);
    await tdb.database.query(sql`delete from auth.scim_push_links where resource_id in (${yan.id}::uuid, ${carol.id}::uuid)`);

    const o = await reconcile();
    assert.equal(o.ok, true, JSON.stringify(o));
    assert.equal(o.missing, 1, 'bob');
    assert.equal(o.changed, 2, 'alice and eng');
    assert.equal(o.extra, 1, 'zed');
    assert.equal(o.relinked, 1, 'carol');
    assert.equal(o.foreign, 2, 'mallory and yan');
    assert.equal(o.deleted, 1);
    assert.equal(o.remaining, 0);
    await settle();

    const names = (await all(globex, 'Users')).map((u) => u.userName).sort();
    assert.deepEqual(names, ['alice', 'bob', 'carol', 'mallory', 'u1', 'u2', 'u3', 'yan']);
    const again = (await byName(globex, 'Users', 'userName', 'alice'))!;
    assert.equal(again.id, gAlice.id, 'replaced in place, not recreated');
    assert.deepEqual([again.name.givenName, again.active], ['Alice', true]);
    const eng = (await byName(globex, 'Groups', 'displayName', 'eng'))!;
    assert.deepEqual(eng.members.map((m: Json) => [m.display, m.type]).sort(), [['bob', 'User'], ['eng-backend', 'Group']]);
    const [link] = await tdb.database.query<{ remote_id: string }>(sql`select remote_id from auth.scim_push_links where resource_id = ${carol.id}::uuid`);
    assert.equal(link!.remote_id, (await byName(globex, 'Users', 'userName', 'carol'))!.id);

    const clean = await reconcile();
    assert.deepEqual(drift(clean), [0, 0, 0, 0], JSON.stringify(clean));
    assert.equal(clean.foreign, 2);
  });

  it('does a bounded amount of work per round and leaves the rest to the next', async () => {
    for (const u of ['u1', 'u2', 'u3']) {
      const g = (await byName(globex, 'Users', 'userName', u))!;
      assert.equal((await globex('DELETE', `/Users/${g.id}`)).status, 204);
    }
    const first = (await reconcileTarget(rt, acmeId, targetId, { maxRepairs: 1 }))!;
    assert.deepEqual([first.missing, first.queued, first.remaining], [3, 1, 2]);
    await settle();
    const second = (await reconcileTarget(rt, acmeId, targetId, { maxRepairs: 1 }))!;
    assert.deepEqual([second.missing, second.queued, second.remaining], [2, 1, 1]);
    await settle();
    const third = (await reconcileTarget(rt, acmeId, targetId, { maxRepairs: 5 }))!;
    assert.deepEqual([third.missing, third.queued, third.remaining], [1, 1, 0]);
    await settle();
    assert.deepEqual(drift((await reconcileTarget(rt, acmeId, targetId))!), [0, 0, 0, 0]);
  });

  it('compares a scoped, flattened target with what the push sends it, and deletes what left its scope', async () => {
    const eng = (await byName(acme, 'Groups', 'displayName', 'eng'))!;
    const carol = (await byName(acme, 'Users', 'userName', 'carol'))!;
    const t = await adminCall('POST', '/scim-targets', { name: 'initech', url: `${h.baseUrl}/auth/initech/scim/v2`, token: initechToken, groups: [eng.id], flatten: true });
    assert.equal(t.status, 201);
    // Nothing pushed yet: the reconcile creates the scope (the first push without a resync).
    const first = await reconcile(t.body.id);
    assert.deepEqual([first.missing, first.extra], [4, 0], JSON.stringify(first));
    await settle();
    const iEng = (await byName(initech, 'Groups', 'displayName', 'eng'))!;
    assert.deepEqual(iEng.members.map((m: Json) => [m.display, m.type]).sort(), [['alice', 'User'], ['bob', 'User']]);
    // Drift: a nested group member (the flattened target must not have one), and carol, out of
    // scope, carrying her externalId.
    const iCarol = await created(initech('POST', '/Users', { schemas: [USER], userName: 'carol', externalId: carol.id }));
    const iNested = await created(initech('POST', '/Groups', { schemas: [GROUP], displayName: 'nested' }));
    assert.equal((await initech('PATCH', `/Groups/${iEng.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: iNested.id, type: 'Group' }, { value: iCarol.id }] }] })).status, 200);
    const o = await reconcile(t.body.id);
    assert.deepEqual([o.missing, o.changed, o.extra, o.foreign], [0, 1, 1, 1], JSON.stringify(o));
    await settle();
    const fixed = (await byName(initech, 'Groups', 'displayName', 'eng'))!;
    assert.deepEqual(fixed.members.map((m: Json) => [m.display, m.type]).sort(), [['alice', 'User'], ['bob', 'User']]);
    assert.equal(await byName(initech, 'Users', 'userName', 'carol'), undefined);
    assert.ok(await byName(initech, 'Groups', 'displayName', 'nested'), 'the target\'s own group stays');
  });

  it('runs on the schedule for targets not reconciled lately, one round per target at a time', async () => {
    await tdb.database.query(sql`update auth.scim_targets set last_reconcile_at = now() - interval '2 hours' where id = ${targetId}`);
    await tdb.database.query(sql`update auth.scim_targets set last_reconcile_at = now() where id <> ${targetId}`);
    assert.equal(await reconcileDueTargets(rt, 60), 1);
    assert.equal(await reconcileDueTargets(rt, 60), 0, 'just done');
    // A round in progress (its lease held) is not run twice: the admin API answers 409.
    await tdb.database.query(sql`update auth.scim_targets set reconcile_lease_until = now() + interval '5 minutes' where id = ${targetId}`);
    const busy = await adminCall('POST', `/scim-targets/${targetId}/reconcile`);
    assert.equal(busy.status, 409);
    await tdb.database.query(sql`update auth.scim_targets set reconcile_lease_until = now() - interval '1 second' where id = ${targetId}`);
    assert.equal((await adminCall('POST', `/scim-targets/${targetId}/reconcile`)).status, 200, 'a lapsed lease is taken over');
    // The push schedule's tick (a CloudEvent) starts the rounds that are due.
    await tdb.database.query(sql`update auth.scim_targets set last_reconcile_at = now() - interval '2 hours', last_reconcile = null where id = ${targetId}`);
    const res = await h.fetch('/_fn/auth-scim-push/_events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'tick-1', 'ce-source': 'test', 'ce-type': 'io.zenokube.auth.scim-push.scheduled' },
      body: JSON.stringify({ schedule: 'auth-scim-push' }),
    });
    assert.equal(res.status, 202);
    for (let i = 0; i < 400; i++) {
      const [row] = await tdb.database.query<{ done: boolean }>(sql`select last_reconcile is not null as done from auth.scim_targets where id = ${targetId}`);
      if (row!.done) break;
      await sleep(25);
    }
    assert.equal((await adminCall('GET', `/scim-targets/${targetId}`)).body.lastReconcile?.ok, true, 'the tick ran a round');
  });

  it('answers bad input with a 4xx and records a failed round with the target\'s answer, never the credential', async () => {
    assert.equal((await adminCall('POST', '/scim-targets/not-a-uuid/reconcile')).status, 404);
    assert.equal((await adminCall('POST', '/scim-targets/00000000-0000-4000-8000-000000000000/reconcile')).status, 404);
    const res = await h.fetch(`/auth/admin/tenants/acme/scim-targets/${targetId}/reconcile`, { method: 'POST' });
    assert.equal(res.status, 401);
    const wrong = await adminCall('POST', '/scim-targets', { name: 'wrong-token', url: `${h.baseUrl}/auth/globex/scim/v2`, token: 'zscim_00000000-0000-4000-8000-000000000000.nope' });
    const o = await reconcile(wrong.body.id);
    assert.equal(o.ok, false);
    assert.match(o.error, /401/);
    const down = await adminCall('POST', '/scim-targets', { name: 'down', url: 'http://127.0.0.1:9/scim/v2', token: 'secret-down' });
    const d = await reconcile(down.body.id);
    assert.deepEqual([d.ok, d.queued, d.deleted], [false, 0, 0]);
    assert.match(d.error, /unreachable/);
    // A target that ignores startIndex repeats its first page: the round fails and changes nothing.
    const [before] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.scim_push_links`);
    const stuck: typeof fetch = (input, init) => fetch(String(input).replace(/startIndex=\d+&count=200/, 'count=2'), init);
    const s = (await reconcileTarget(rt, acmeId, targetId, { maxRepairs: 1000, fetch: stuck }))!;
    assert.deepEqual([s.ok, s.deleted, s.queued], [false, 0, 0]);
    assert.match(s.error!, /paging does not advance/);
    const [afterRound] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.scim_push_links`);
    assert.equal(afterRound!.n, before!.n);
    const seen = await adminCall('GET', `/scim-targets/${down.body.id}`);
    assert.equal(seen.body.lastReconcile.ok, false);
    assert.equal(JSON.stringify(seen.body).includes('secret-down'), false);
    const [row] = await tdb.database.query<{ held: boolean }>(sql`select reconcile_lease_until is not null as held from auth.scim_targets where id = ${down.body.id}`);
    assert.equal(row!.held, false, 'a failed round lets the target go');
  });
});
