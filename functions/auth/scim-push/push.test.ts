import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant } from '../testing/fixtures.js';
import { mintScimToken } from '../core/scim-tokens.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import admin from '../admin/function.js';
import scim from '../scim/function.js';
import token from '../token/function.js';
import scimPush from './function.js';
import { drainPushQueue, retryDelaySeconds } from './drain.js';

type Json = Record<string, any>;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('auth-scim-push: outbound SCIM to another tenant\'s SCIM server (RFC 7644 §3.3, §3.5.1, §3.6)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let rt: AuthRuntime;
  let acmeToken: string;
  let globexToken: string;
  let initechToken: string;
  let adminToken: string;
  let relayed = 0;

  const scimCall = async (tenant: string, auth: string, method: string, path: string, body?: unknown) => {
    const res = await h.fetch(`/auth/${tenant}/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  const acme = (method: string, path: string, body?: unknown) => scimCall('acme', acmeToken, method, path, body);
  const globex = (method: string, path: string, body?: unknown) => scimCall('globex', globexToken, method, path, body);
  const adminCall = async (method: string, path: string, body?: unknown) => {
    const res = await h.fetch(`/auth/admin/tenants/acme${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  const created = async (r: Promise<{ status: number; body: Json }>) => {
    const out = await r;
    assert.equal(out.status, 201, JSON.stringify(out.body));
    return out.body;
  };
  /** Stands in for the broker: hands the new outbox events to the function as CloudEvents. */
  const relay = async () => {
    const rows = await tdb.database.query<{ seq: number; id: string; type: string; source: string; data: unknown }>(
      sql`select seq, id, type, source, data from auth.outbox where seq > ${relayed} order by seq`,
    );
    for (const e of rows) {
      relayed = Number(e.seq);
      if (!e.type.startsWith('io.zenokube.auth.user.') && !e.type.startsWith('io.zenokube.auth.group.')) continue;
      const res = await h.fetch('/_fn/auth-scim-push/_events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': e.id, 'ce-source': e.source, 'ce-type': e.type },
        body: JSON.stringify(e.data),
      });
      assert.equal(res.status, 202, await res.text());
    }
  };
  /** Relays, then drains until nothing is waiting (the function's own drain may be running too). */
  const settle = async () => {
    await relay();
    for (let i = 0; i < 400; i++) {
      await drainPushQueue(rt);
      const [w] = await tdb.database.query<{ n: number; dead: number }>(sql`select count(*) filter (where dead_at is null)::int as n, count(*) filter (where dead_at is not null)::int as dead from auth.scim_push_queue`);
      assert.equal(w!.dead, 0, 'no push failed');
      if (w!.n === 0) return;
      await sleep(25);
    }
    assert.fail('the push queue did not drain');
  };
  const byName = async (tenant: (m: string, p: string) => Promise<{ body: Json }>, kind: 'Users' | 'Groups', attr: string, value: string) =>
    (await tenant('GET', `/${kind}?filter=${encodeURIComponent(`${attr} eq "${value}"`)}`)).body.Resources?.[0] as Json | undefined;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true, functions: [token, admin, scim, scimPush] });
    const acmeT = await makeTenant(tdb.database.db, 'acme');
    const globexT = await makeTenant(tdb.database.db, 'globex');
    const initechT = await makeTenant(tdb.database.db, 'initech');
    acmeToken = (await mintScimToken(tdb.database.db, acmeT.id, 'provisioning')).token;
    globexToken = (await mintScimToken(tdb.database.db, globexT.id, 'from-acme')).token;
    initechToken = (await mintScimToken(tdb.database.db, initechT.id, 'from-acme')).token;
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
    rt = await createAuthRuntime(h.hosted.find((f) => f.declaration.name === 'auth-scim-push')!.context);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

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
      const initech = (m: string, p: string) => scimCall('initech', initechToken, m, p);
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
