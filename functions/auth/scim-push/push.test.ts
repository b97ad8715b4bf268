import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { TestDatabase } from '#tests/support/database';
import type { AuthHarness } from '../testing/harness.js';
import type { AuthRuntime } from '../core/runtime.js';
import { startPushSites, type Json, type PushSites } from '../testing/scim-push-sites.js';
import { drainPushQueue, retryDelaySeconds } from './drain.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('auth-scim-push: outbound SCIM to another tenant\'s SCIM server (RFC 7644 §3.3, §3.5.1, §3.6)', () => {
  let sites: PushSites;
  let tdb: TestDatabase;
  let h: AuthHarness;
  let rt: AuthRuntime;
  let globexToken: string;
  let initechToken: string;
  const acme: PushSites['acme'] = (m, p, b) => sites.acme(m, p, b);
  const globex: PushSites['globex'] = (m, p, b) => sites.globex(m, p, b);
  const adminCall: PushSites['adminCall'] = (m, p, b) => sites.adminCall(m, p, b);
  const created: PushSites['created'] = (r) => sites.created(r);
  const settle = () => sites.settle();
  const byName: PushSites['byName'] = (t, k, a, v) => sites.byName(t, k, a, v);

  before(async () => {
    sites = await startPushSites();
    ({ tdb, h, rt } = sites);
    ({ globex: globexToken, initech: initechToken } = sites.tokens);
  });
  after(() => sites.close());

  describe('the admin API of targets', () => {
    it('creates a target whose credential is sealed at rest and never shown', async () => {
      const r = await adminCall('POST', '/scim-targets', { name: 'globex', url: `${h.baseUrl}/auth/globex/scim/v2`, token: globexToken });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(JSON.stringify(r.body).includes(globexToken), false);
      const [row] = await tdb.database.query<{ token_sealed: string }>(sql`select token_sealed from auth.scim_targets where id = ${r.body.id}`);
      assert.equal(row!.token_sealed.includes(globexToken.split('.')[1]!), false);
      const list = await adminCall('GET', '/scim-targets');
      assert.deepEqual(list.body.targets.map((t: Json) => [t.name, t.flatten, t.groups]), [['globex', false, null]]);
    });

    it('refuses a bad URL, a missing token or a taken name with a clear 4xx (422, 409, 404)', async () => {
      assert.equal((await adminCall('POST', '/scim-targets', { name: 'x', url: 'ftp://example.com/scim', token: 't' })).status, 422);
      assert.equal((await adminCall('POST', '/scim-targets', { name: 'x', url: 'not a url', token: 't' })).status, 422);
      assert.equal((await adminCall('POST', '/scim-targets', { name: 'x', url: 'https://example.com/scim' })).status, 422);
      assert.equal((await adminCall('POST', '/scim-targets', { name: 'x', url: 'https://example.com/scim', token: 't', groups: ['nope'] })).status, 422);
      assert.equal((await adminCall('POST', '/scim-targets', { name: 'globex', url: 'https://example.com/scim', token: 't' })).status, 409);
      assert.equal((await adminCall('GET', '/scim-targets/not-a-uuid')).status, 404);
      assert.equal((await adminCall('GET', '/scim-targets/00000000-0000-4000-8000-000000000000')).status, 404);
    });
  });

  describe('push', () => {
    it('creates users, then groups with nested groups as members, and stores the target ids', async () => {
      const alice = await created(acme('POST', '/Users', { schemas: [USER], userName: 'alice', name: { givenName: 'Alice', familyName: 'A' }, emails: [{ value: 'alice@acme.test', primary: true }] }));
      const bob = await created(acme('POST', '/Users', { schemas: [USER], userName: 'bob' }));
      const backend = await created(acme('POST', '/Groups', { schemas: [GROUP], displayName: 'eng-backend', members: [{ value: alice.id, type: 'User' }] }));
      await created(acme('POST', '/Groups', { schemas: [GROUP], displayName: 'eng', members: [{ value: backend.id, type: 'Group' }, { value: bob.id, type: 'User' }] }));
      await settle();
      const rAlice = (await byName(globex, 'Users', 'userName', 'alice'))!;
      assert.equal(rAlice.externalId, alice.id);
      assert.equal(rAlice.name.givenName, 'Alice');
      assert.deepEqual(rAlice.emails.map((e: Json) => e.value), ['alice@acme.test']);
      const rEng = (await byName(globex, 'Groups', 'displayName', 'eng'))!;
      const rBackend = (await byName(globex, 'Groups', 'displayName', 'eng-backend'))!;
      assert.deepEqual(rEng.members.map((m: Json) => [m.display, m.type]).sort(), [['bob', 'User'], ['eng-backend', 'Group']]);
      // The hierarchy arrived whole: on the target, alice is in eng through eng-backend.
      assert.deepEqual(rAlice.groups.map((g: Json) => [g.display, g.type]).sort(), [['eng', 'indirect'], ['eng-backend', 'direct']]);
      const links = await tdb.database.query<{ resource_id: string; remote_id: string }>(sql`select resource_id::text, remote_id from auth.scim_push_links order by remote_id`);
      assert.deepEqual(new Map(links.map((l) => [l.resource_id, l.remote_id])).get(backend.id), rBackend.id);
      assert.equal(links.length, 4);
    });

    it('carries renames, deactivation, membership removal and deletes in order', async () => {
      const eng = (await byName(acme, 'Groups', 'displayName', 'eng'))!;
      const bob = (await byName(acme, 'Users', 'userName', 'bob'))!;
      const alice = (await byName(acme, 'Users', 'userName', 'alice'))!;
      assert.equal((await acme('PATCH', `/Groups/${eng.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'engineering' }, { op: 'remove', path: `members[value eq "${bob.id}"]` }] })).status, 200);
      assert.equal((await acme('PATCH', `/Users/${alice.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] })).status, 200);
      assert.equal((await acme('DELETE', `/Users/${bob.id}`)).status, 204);
      await settle();
      const rEng = (await byName(globex, 'Groups', 'displayName', 'engineering'))!;
      assert.deepEqual(rEng.members.map((m: Json) => m.display), ['eng-backend']);
      assert.equal(await byName(globex, 'Groups', 'displayName', 'eng'), undefined);
      assert.equal((await byName(globex, 'Users', 'userName', 'alice'))!.active, false);
      assert.equal(await byName(globex, 'Users', 'userName', 'bob'), undefined);
      const [n] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.scim_push_links where resource_type = 'User'`);
      assert.equal(n!.n, 1);
    });

    it('recreates a resource deleted at the target behind its back', async () => {
      const rBackend = (await byName(globex, 'Groups', 'displayName', 'eng-backend'))!;
      assert.equal((await globex('DELETE', `/Groups/${rBackend.id}`)).status, 204);
      const backend = (await byName(acme, 'Groups', 'displayName', 'eng-backend'))!;
      assert.equal((await acme('PATCH', `/Groups/${backend.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'externalId', value: 'be-1' }] })).status, 200);
      await settle();
      const again = (await byName(globex, 'Groups', 'displayName', 'eng-backend'))!;
      assert.notEqual(again.id, rBackend.id);
      assert.equal(again.externalId, backend.id);
    });

    it('pushes only the selected groups, flattened, to a target that cannot nest', async () => {
      const eng = (await byName(acme, 'Groups', 'displayName', 'engineering'))!;
      const carol = await created(acme('POST', '/Users', { schemas: [USER], userName: 'carol' }));
      const dave = await created(acme('POST', '/Users', { schemas: [USER], userName: 'dave' }));
      await created(acme('POST', '/Groups', { schemas: [GROUP], displayName: 'sales', members: [{ value: carol.id, type: 'User' }] }));
      const backend = (await byName(acme, 'Groups', 'displayName', 'eng-backend'))!;
      assert.equal((await acme('PATCH', `/Groups/${backend.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: dave.id, type: 'User' }] }] })).status, 200);
      await settle();
      const t = await adminCall('POST', '/scim-targets', { name: 'initech', url: `${h.baseUrl}/auth/initech/scim/v2`, token: initechToken, groups: [eng.id], flatten: true });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      assert.equal((await adminCall('POST', `/scim-targets/${t.body.id}/resync`)).body.queued > 0, true);
      await settle();
      const initech = (m: string, p: string) => sites.initech(m, p);
      const rEng = (await byName(initech, 'Groups', 'displayName', 'engineering'))!;
      assert.deepEqual(rEng.members.map((m: Json) => [m.display, m.type]).sort(), [['alice', 'User'], ['dave', 'User']]);
      assert.equal(await byName(initech, 'Groups', 'displayName', 'sales'), undefined);
      assert.equal(await byName(initech, 'Users', 'userName', 'carol'), undefined);
    });
  });

  describe('failures', () => {
    it('retries with exponential backoff, then keeps a dead letter an admin sees and replays', async () => {
      assert.deepEqual([1, 2, 3, 4, 20].map((n) => retryDelaySeconds(n, 10)), [10, 20, 40, 80, 3600]);
      const t = await adminCall('POST', '/scim-targets', { name: 'wrong-token', url: `${h.baseUrl}/auth/globex/scim/v2`, token: 'zscim_00000000-0000-4000-8000-000000000000.nope' });
      assert.equal((await adminCall('POST', `/scim-targets/${t.body.id}/resync`)).status, 200);
      const opts = { maxAttempts: 2, backoffSeconds: 600, leaseSeconds: 60, limit: 100 };
      const first = await drainPushQueue(rt, opts);
      assert.equal(first.delivered, 0);
      assert.ok(first.failed > 0);
      const [waiting] = await tdb.database.query<{ attempts: number; later: boolean; last_error: string }>(
        sql`select attempts, next_attempt_at > now() + interval '5 minutes' as later, last_error from auth.scim_push_queue where target_id = ${t.body.id} limit 1`,
      );
      assert.deepEqual([waiting!.attempts, waiting!.later], [1, true]);
      assert.match(waiting!.last_error, /401/);
      assert.equal((await drainPushQueue(rt, opts)).failed, 0, 'nothing is due before its backoff');
      await tdb.database.query(sql`update auth.scim_push_queue set next_attempt_at = now() where target_id = ${t.body.id}`);
      await drainPushQueue(rt, opts);
      const seen = await adminCall('GET', `/scim-targets/${t.body.id}`);
      assert.equal(seen.body.pending, 0);
      assert.equal(seen.body.deadLetters.length, first.failed);
      assert.match(seen.body.deadLetters[0].lastError, /401/);
      assert.equal(JSON.stringify(seen.body).includes('nope'), false);
      const replay = await adminCall('POST', `/scim-targets/${t.body.id}/replay`);
      assert.equal(replay.body.replayed, first.failed);
      assert.equal((await adminCall('GET', `/scim-targets/${t.body.id}`)).body.pending, first.failed);
      assert.equal((await adminCall('DELETE', `/scim-targets/${t.body.id}`)).status, 204);
      assert.equal((await adminCall('GET', `/scim-targets/${t.body.id}`)).status, 404);
    });

    it('records an unreachable target as such', async () => {
      const t = await adminCall('POST', '/scim-targets', { name: 'down', url: 'http://127.0.0.1:9/scim/v2', token: 'x' });
      await adminCall('POST', `/scim-targets/${t.body.id}/resync`);
      await drainPushQueue(rt, { maxAttempts: 1, backoffSeconds: 1, leaseSeconds: 60, limit: 100 });
      const seen = await adminCall('GET', `/scim-targets/${t.body.id}`);
      assert.ok(seen.body.deadLetters.length > 0);
      assert.match(seen.body.deadLetters[0].lastError, /unreachable/);
      await adminCall('DELETE', `/scim-targets/${t.body.id}`);
    });
  });
});
