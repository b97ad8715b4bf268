import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { closeSyncSites, directorySnapshot, openSyncSites, type SyncSite } from '../testing/sync-sites.js';
import { openPeerToken } from '../core/scim-peers.js';
import { createTargetClient, TargetError } from '../scim-push/target-client.js';
import { readPeerState } from './peer-reader.js';
import { planRound } from './plan.js';
import { runSyncRound } from './round.js';
import { readLocalState } from './site-state.js';
import type { RoundReport } from './round-context.js';
import { nodeArgs } from '#tests/support/node-args';

type Json = Record<string, any>;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with SCIM_SYNC_SEED. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(next() * xs.length)] : undefined) };
}
type Rng = ReturnType<typeof prng>;

const patch = (...ops: Json[]) => ({ schemas: [PATCH], Operations: ops });

/** One random change at a site, through its SCIM API; a refusal the API is right to give (a cycle, a race) is fine. */
async function randomChange(site: SyncSite, rng: Rng, n: number): Promise<string> {
  const users = await site.listAll('/Users?excludedAttributes=groups');
  const groups = await site.listAll('/Groups');
  const u = rng.pick(users);
  const g = rng.pick(groups);
  const g2 = rng.pick(groups);
  const ok = (r: { status: number; body: Json }, ...allowed: number[]) => {
    assert.ok(r.status < 300 || allowed.includes(r.status), `${site.name}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  const roll = rng.int(12);
  if (roll < 2 || !u) {
    ok(await site.scim('POST', '/Users', { schemas: [USER], userName: `${site.name}-u${n}`, displayName: `User ${n}`, emails: [{ value: `${site.name}${n}@acme.test` }] }));
    return 'create user';
  }
  if (roll < 3 || !g) {
    ok(await site.scim('POST', '/Groups', { schemas: [GROUP], displayName: `${site.name}-g${n}` }));
    return 'create group';
  }
  switch (roll) {
    case 3:
      ok(await site.scim('PATCH', `/Users/${u.id}`, patch({ op: 'replace', path: 'displayName', value: `${site.name} renamed ${n}` }, { op: 'replace', path: 'userName', value: `${site.name}-u${n}-r` })), 404, 409);
      return 'rename user';
    case 4:
      ok(await site.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', path: 'displayName', value: `${site.name}-g${n}-r` })), 404, 409);
      return 'rename group';
    case 5:
    case 6:
      ok(await site.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: u.id, type: 'User' }] })), 400, 404);
      return 'add user member';
    case 7:
      // Nesting: the database refuses a cycle with 400.
      ok(await site.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: g2!.id, type: 'Group' }] })), 400, 404);
      return 'nest group';
    case 8: {
      // A nested move: a child group leaves its parent for another group.
      const parent = rng.pick(groups.filter((x) => (x.members ?? []).some((m: Json) => m.type === 'Group')));
      if (!parent) return 'no move';
      const child = rng.pick((parent.members as Json[]).filter((m) => m.type === 'Group'))!;
      ok(await site.scim('PATCH', `/Groups/${parent.id}`, patch({ op: 'remove', path: `members[value eq "${child.value}"]` })), 400, 404);
      ok(await site.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: child.value, type: 'Group' }] })), 400, 404);
      return 'nested move';
    }
    case 9: {
      const withMembers = rng.pick(groups.filter((x) => x.members?.length));
      if (!withMembers) return 'no removal';
      const m = rng.pick(withMembers.members as Json[])!;
      ok(await site.scim('PATCH', `/Groups/${withMembers.id}`, patch({ op: 'remove', path: `members[value eq "${m.value}"]` })), 400, 404);
      return 'remove member';
    }
    case 10:
      ok(await site.scim('DELETE', `/Users/${u.id}`), 404);
      return 'delete user';
    default:
      ok(await site.scim('DELETE', `/Groups/${g.id}`), 404);
      return 'delete group';
  }
}

/** Runs rounds both ways until a pair of rounds takes nothing (at most `max` pairs). */
async function settle(a: SyncSite, b: SyncSite, max = 8): Promise<RoundReport[]> {
  const reports: RoundReport[] = [];
  for (let i = 0; i < max; i++) {
    const ra = (await runSyncRound(a.rt, a.peer))!;
    const rb = (await runSyncRound(b.rt, b.peer))!;
    reports.push(ra, rb);
    if (!ra.applied && !ra.deleted && !rb.applied && !rb.deleted) return reports;
  }
  assert.fail(`no convergence after ${max} pairs of rounds: ${JSON.stringify(reports.slice(-2))}`);
}

describe('auth-scim-sync: two sites converge (docs/scim-sync.md)', () => {
  let a: SyncSite;
  let b: SyncSite;
  const seed = Number(process.env.SCIM_SYNC_SEED ?? randomInt(2 ** 31));

  before(async () => {
    [a, b] = await openSyncSites();
    console.log(`scim-sync convergence seed: ${seed} (replay with SCIM_SYNC_SEED=${seed})`);
  });
  after(async () => closeSyncSites([a, b]));

  it('keeps a peer through the admin API: the credential sealed and never shown, bad input a clear 4xx', async () => {
    const list = await a.admin('GET', '/scim-peers');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.peers.map((p: Json) => p.name), ['site-b']);
    assert.equal(JSON.stringify(list.body).includes('zscim_'), false);
    const [row] = await a.tdb.database.query<{ token_sealed: string }>(sql`select token_sealed from auth.scim_sync_peers`);
    assert.equal(row!.token_sealed.includes('zscim_'), false);
    assert.equal((await a.admin('POST', '/scim-peers', { name: 'x', url: 'ftp://example.com/scim', token: 't' })).status, 422);
    assert.equal((await a.admin('POST', '/scim-peers', { name: 'x', url: 'https://example.com/scim' })).status, 422);
    assert.equal((await a.admin('POST', '/scim-peers', { name: 'site-b', url: 'https://example.com/scim', token: 't' })).status, 409);
    assert.equal((await a.admin('GET', '/scim-peers/not-a-uuid')).status, 404);
    assert.equal((await a.admin('DELETE', '/scim-peers/00000000-0000-4000-8000-000000000000')).status, 404);
    const extra = await a.admin('POST', '/scim-peers', { name: 'gone', url: 'https://example.com/scim', token: 't' });
    assert.equal(extra.status, 201);
    assert.equal((await a.admin('DELETE', `/scim-peers/${extra.body.id}`)).status, 204);
  });

  it('serves deletes as /Tombstones, filtered by meta.lastModified only (a bad filter is 400 invalidFilter)', async () => {
    const r = await b.scim('GET', '/Tombstones?filter=userName%20eq%20%22x%22');
    assert.equal(r.status, 400);
    assert.equal(r.body.scimType, 'invalidFilter');
    assert.equal((await b.scim('GET', '/Tombstones?filter=meta.lastModified%20gt%20%22not-a-date%22')).status, 400);
    assert.equal((await b.scim('POST', '/Tombstones', {})).status, 405);
    const ok = await b.scim('GET', `/Tombstones?filter=${encodeURIComponent('meta.lastModified gt "2000-01-01T00:00:00Z"')}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.totalResults, 0);
  });

  it('leaves a tombstone for every delete, keyed by externalId or id, but none when the tenant itself goes', async () => {
    const db = b.tdb.database;
    const [t] = await db.query<{ id: string }>(sql`insert into auth.tenants (slug, display_name) values ('gone', 'Gone') returning id`);
    const [u] = await db.query<{ id: string }>(sql`insert into auth.users (tenant_id, username) values (${t!.id}, 'x') returning id`);
    await db.query(sql`insert into auth.groups (tenant_id, display_name, external_id) values (${t!.id}, 'g', 'ext-g')`);
    await db.query(sql`delete from auth.users where id = ${u!.id}`);
    await db.query(sql`delete from auth.groups where external_id = 'ext-g'`);
    const stones = await db.query<{ resource_type: string; key: string }>(sql`select resource_type, key from auth.scim_tombstones where tenant_id = ${t!.id} order by resource_type`);
    assert.deepEqual(stones.map((r) => [r.resource_type, r.key]), [['Group', 'ext-g'], ['User', u!.id]]);
    await db.query(sql`insert into auth.users (tenant_id, username) values (${t!.id}, 'y')`);
    await db.query(sql`delete from auth.tenants where id = ${t!.id}`);
    assert.equal((await db.query(sql`select 1 from auth.scim_tombstones where tenant_id = ${t!.id}`)).length, 0);
  });

  it('carries a user, a nested group and a delete both ways, and sends nothing back to where it came from', async () => {
    const alice = (await a.scim('POST', '/Users', { schemas: [USER], userName: 'alice', displayName: 'Alice' })).body;
    const inner = (await a.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'eng-backend', members: [{ value: alice.id }] })).body;
    await a.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'eng', members: [{ value: inner.id, type: 'Group' }] });
    const toB = (await runSyncRound(b.rt, b.peer))!;
    assert.deepEqual([toB.applied, toB.deleted, toB.conflicts], [3, 0, []]);
    const bAlice = (await b.listAll('/Users?filter=userName%20eq%20%22alice%22'))[0]!;
    assert.equal(bAlice.externalId, alice.id, 'the copy is known by the origin id as externalId');
    assert.deepEqual(bAlice.groups.map((g: Json) => [g.display, g.type]).sort(), [['eng', 'indirect'], ['eng-backend', 'direct']]);
    // The copy carries the origin's lastModified: the origin's next round sees its own version, takes nothing.
    assert.equal(bAlice.meta.lastModified, alice.meta.lastModified);
    const back = (await runSyncRound(a.rt, a.peer))!;
    assert.deepEqual([back.applied, back.deleted], [0, 0]);

    // B deletes alice: a tombstone that A takes; and A's copy is gone from eng-backend with it.
    assert.equal((await b.scim('DELETE', `/Users/${bAlice.id}`)).status, 204);
    const del = (await runSyncRound(a.rt, a.peer))!;
    assert.equal(del.deleted, 1);
    assert.equal((await a.scim('GET', `/Users/${alice.id}`)).status, 404);
    assert.deepEqual(await directorySnapshot(a), await directorySnapshot(b));
    assert.deepEqual([(await runSyncRound(b.rt, b.peer))!.applied, (await runSyncRound(a.rt, a.peer))!.applied], [0, 0]);
  });

  it('lets the later change win when both sites change one user, the same way on both', async () => {
    const u = (await a.scim('POST', '/Users', { schemas: [USER], userName: 'bob', displayName: 'Bob' })).body;
    await settle(a, b);
    const bBob = (await b.listAll('/Users?filter=userName%20eq%20%22bob%22'))[0]!;
    await a.scim('PATCH', `/Users/${u.id}`, patch({ op: 'replace', path: 'displayName', value: 'Bob at A' }));
    // The later write: B's.
    await new Promise((r) => setTimeout(r, 5));
    await b.scim('PATCH', `/Users/${bBob.id}`, patch({ op: 'replace', path: 'displayName', value: 'Bob at B' }));
    await settle(a, b);
    assert.equal((await a.scim('GET', `/Users/${u.id}`)).body.displayName, 'Bob at B');
    assert.deepEqual(await directorySnapshot(a), await directorySnapshot(b));
  });

  it('refuses a membership that would close a cycle on the receiving side, reports it, and both sites end without it', async () => {
    const p = (await a.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'cyc-p' })).body;
    const c = (await a.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'cyc-c' })).body;
    await settle(a, b);
    const bP = (await b.listAll('/Groups?filter=displayName%20eq%20%22cyc-p%22'))[0]!;
    const bC = (await b.listAll('/Groups?filter=displayName%20eq%20%22cyc-c%22'))[0]!;
    // Concurrently: A puts p inside c, B puts c inside p. Each is valid on its own site.
    assert.equal((await a.scim('PATCH', `/Groups/${c.id}`, patch({ op: 'add', path: 'members', value: [{ value: p.id, type: 'Group' }] }))).status, 200);
    assert.equal((await b.scim('PATCH', `/Groups/${bP.id}`, patch({ op: 'add', path: 'members', value: [{ value: bC.id, type: 'Group' }] }))).status, 200);
    const first = (await runSyncRound(a.rt, a.peer))!;
    assert.deepEqual(first.conflicts.map((x) => [x.kind, x.key]), [['cycle', p.id]]);
    const reports = await settle(a, b);
    const snapA = await directorySnapshot(a);
    assert.deepEqual(snapA, await directorySnapshot(b));
    const edges = snapA.groups.filter((g: any[]) => g[1] === 'cyc-p' || g[1] === 'cyc-c').flatMap((g: any[]) => g[2]);
    assert.ok(edges.length <= 1, 'no loop on either site');
    assert.ok(reports.every((r) => r.conflicts.every((x) => x.kind === 'cycle')));
    const [audit] = await a.tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'scim.sync.round' and outcome = 'failure'`);
    assert.ok(audit!.n >= 1, 'the refusal is in the audit trail');
  });

  it('converges after random interleaved changes on both sites (creates, renames, memberships, nested moves, deletes)', async () => {
    const rng = prng(seed);
    const done: Record<string, number> = {};
    for (let n = 0; n < 160; n++) {
      const site = rng.next() < 0.5 ? a : b;
      const what = await randomChange(site, rng, n);
      done[what] = (done[what] ?? 0) + 1;
      // Now and then a round one way, mid-stream, as the schedule would fire.
      if (rng.int(12) === 0) await runSyncRound(...(rng.next() < 0.5 ? ([a.rt, a.peer] as const) : ([b.rt, b.peer] as const)));
    }
    console.log(`changes: ${JSON.stringify(done)}`);
    await settle(a, b);
    const snapA = await directorySnapshot(a);
    assert.deepEqual(snapA, await directorySnapshot(b));
    assert.ok(snapA.userKeys > 0 && snapA.groupKeys > 0);
    assert.equal(new Set(snapA.users.map((u: any[]) => u[0])).size, snapA.userKeys, 'no duplicate identity');
  });

  describe('a round killed mid-way', () => {
    /** B changes a lot; returns how many changes A's next round takes (users, then groups). */
    const changeB = async (tag: string) => {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) ids.push((await b.scim('POST', '/Users', { schemas: [USER], userName: `${tag}-u${i}` })).body.id);
      let parent: string | undefined;
      for (let i = 0; i < 12; i++) {
        const members = [{ value: ids[i]!, type: 'User' }, { value: ids[i + 12]!, type: 'User' }, ...(parent ? [{ value: parent, type: 'Group' }] : [])];
        parent = (await b.scim('POST', '/Groups', { schemas: [GROUP], displayName: `${tag}-g${i}`, members })).body.id;
      }
      // And A changes too, concurrently.
      for (let i = 0; i < 5; i++) await a.scim('POST', '/Users', { schemas: [USER], userName: `${tag}-a${i}` });
      const peer = await readPeerState(createTargetClient(a.peer.url, openPeerToken(a.rt.pushSealer, a.peer)));
      const plan = planRound(await readLocalState(a.rt.db, a.peer.tenantId), peer.state);
      return { users: plan.users.length, groups: plan.groups.length };
    };
    const outboxCount = async () => (await a.tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.outbox`))[0]!.n;

    /** Runs A's round in its own process and SIGKILLs it once `after` of its changes have committed. */
    const killRoundAfter = async (after: number) => {
      const base = await outboxCount();
      const child = spawn(process.execPath, nodeArgs(join(import.meta.dirname, '..', 'testing', 'scim-sync-pod.ts')), {
        env: { ...process.env, DATABASE_URL: a.tdb.url, ZENO_AUTH_MASTER_KEY: a.masterKey, SCIM_SYNC_PEER: a.peer.id },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = once(child, 'exit');
      let done = false;
      void exited.then(() => (done = true));
      while (!done && (await outboxCount()) < base + after) await sleep(2);
      child.kill('SIGKILL');
      const [code, signal] = (await exited) as [number | null, string | null];
      assert.equal(signal, 'SIGKILL', `the round was to be killed mid-way, but it ended: ${code} ${out}`);
      // The killed round's lease on the peer runs out (here at once, as if its ten minutes had passed).
      await a.tdb.database.query(sql`update auth.scim_sync_peers set lease_until = now() - interval '1 second'`);
      return (await outboxCount()) - base;
    };

    const resumesAfterKill = async (tag: string, pickKill: (plan: { users: number; groups: number }) => number) => {
      const plan = await changeB(tag);
      const k = pickKill(plan);
      const committed = await killRoundAfter(k);
      // Each user is one event; each new group its creation and its members.
      assert.ok(committed >= k && committed < plan.users + 2 * plan.groups, `killed after ${committed} of ${plan.users + 2 * plan.groups} events`);
      assert.notDeepEqual(await directorySnapshot(a), await directorySnapshot(b), 'the killed round left A half-way');
      await settle(a, b);
      const snapA = await directorySnapshot(a);
      assert.deepEqual(snapA, await directorySnapshot(b));
      assert.equal(new Set(snapA.users.map((u: any[]) => u[0])).size, snapA.userKeys, 'no duplicate user');
      assert.equal(new Set(snapA.groups.map((g: any[]) => g[1])).size, snapA.groupKeys, 'no duplicate group');
      const chain = snapA.transitive.find((t: any[]) => t[0] === (snapA.users.find((u: any[]) => u[1] === `${tag}-u0`) ?? [])[0]);
      assert.equal(chain[1].length, 12, 'the nested chain arrived whole: u0 is in all twelve groups');
    };

    it('resumes without duplicates when the process dies while users are applied (SIGKILL)', async () => {
      await settle(a, b);
      const rng = prng(seed + 1);
      await resumesAfterKill('k1', (p) => 1 + rng.int(Math.floor(p.users / 2)));
    });

    it('resumes when the process dies while groups and memberships are applied (SIGKILL)', async () => {
      const rng = prng(seed + 2);
      await resumesAfterKill('k2', (p) => p.users + 1 + rng.int(2 * p.groups - 2));
    });

    it('resumes when the connection to the peer dies while it is read, and shows the error to the admin', async () => {
      await b.scim('POST', '/Users', { schemas: [USER], userName: 'late' });
      let calls = 0;
      const dying: typeof fetch = async (input, init) => {
        if (++calls > 1) throw new TypeError('socket hang up');
        return fetch(input, init);
      };
      await assert.rejects(runSyncRound(a.rt, a.peer, { fetch: dying }), (err: unknown) => err instanceof TargetError && /unreachable/.test(err.message));
      const view = await a.admin('GET', `/scim-peers/${a.peer.id}`);
      assert.match(view.body.lastError, /unreachable/);
      assert.equal(JSON.stringify(view.body).includes('zscim_'), false);
      await settle(a, b);
      assert.deepEqual(await directorySnapshot(a), await directorySnapshot(b));
      assert.equal((await a.admin('GET', `/scim-peers/${a.peer.id}`)).body.lastError, null);
    });
  });
});
