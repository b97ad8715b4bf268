import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import SCIMMY from 'scimmy';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeTenant } from '../testing/fixtures.js';
import { mintScimToken } from '../core/scim-tokens.js';
import { createAuthRuntime } from '../core/runtime.js';
import admin from '../admin/function.js';
import scim from '../scim/function.js';
import token from '../token/function.js';
import scimPush from './function.js';
import { drainPushQueue } from './drain.js';
import { reconcileTarget } from './reconcile.js';

type Json = Record<string, any>;
const TARGET_TOKEN = randomUUID();

/** An independent SCIM 2.0 service provider: SCIMMY's resource handlers over two in-memory maps, behind node:http. */
function startScimmyTarget(): Promise<{ server: Server; url: string; store: Record<'Users' | 'Groups', Map<string, Json>> }> {
  const store = { Users: new Map<string, Json>(), Groups: new Map<string, Json>() };
  const handlers = (kind: 'Users' | 'Groups') => ({
    ingress: (resource: { id?: string }, instance: unknown) => {
      const data = JSON.parse(JSON.stringify(instance)) as Json;
      const key = kind === 'Users' ? 'userName' : 'displayName';
      for (const [id, v] of store[kind]) if (id !== resource.id && v[key] === data[key]) throw new SCIMMY.Types.Error(409, 'uniqueness', `${key} taken`);
      if (resource.id && !store[kind].has(resource.id)) throw new SCIMMY.Types.Error(404, null!, 'not found');
      const id = resource.id ?? randomUUID();
      const row = { ...data, id };
      store[kind].set(id, row);
      return row;
    },
    egress: (resource: { id?: string; filter?: { match(v: Json[]): Json[] } }) => {
      if (resource.id) {
        const row = store[kind].get(resource.id);
        if (!row) throw new SCIMMY.Types.Error(404, null!, 'not found');
        return row;
      }
      const all = [...store[kind].values()];
      return resource.filter ? resource.filter.match(all) : all;
    },
    degress: (resource: { id?: string }) => {
      if (!resource.id || !store[kind].delete(resource.id)) throw new SCIMMY.Types.Error(404, null!, 'not found');
    },
  });
  const u = handlers('Users');
  const g = handlers('Groups');
  SCIMMY.Resources.declare(SCIMMY.Resources.User).ingress(u.ingress as never).egress(u.egress as never).degress(u.degress as never);
  SCIMMY.Resources.declare(SCIMMY.Resources.Group).ingress(g.ingress as never).egress(g.egress as never).degress(g.degress as never);
  const server = createServer(async (req, res) => {
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/scim+json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    try {
      if (req.headers.authorization !== `Bearer ${TARGET_TOKEN}`) return send(401, new SCIMMY.Messages.Error({ status: 401, detail: 'no' }));
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/scim\/v2\/(Users|Groups)(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) return send(404, new SCIMMY.Messages.Error({ status: 404, detail: 'no route' }));
      const Type = m[1] === 'Users' ? SCIMMY.Resources.User : SCIMMY.Resources.Group;
      let text = '';
      for await (const chunk of req) text += chunk;
      const body = text ? JSON.parse(text) : undefined;
      const filter = url.searchParams.get('filter') ?? undefined;
      const r = m[2] ? new Type(m[2]) : new Type((filter ? { filter } : {}) as never);
      if (req.method === 'GET') return send(200, await r.read());
      if (req.method === 'POST' && !m[2]) return send(201, await r.write(body));
      if (req.method === 'PUT' && m[2]) return send(200, await r.write(body));
      if (req.method === 'PATCH' && m[2]) return send(200, await r.patch(body));
      if (req.method === 'DELETE' && m[2]) return send(204, await r.dispose());
      return send(400, new SCIMMY.Messages.Error({ status: 400, detail: 'method' }));
    } catch (err) {
      if (err instanceof SCIMMY.Types.Error) return send(err.status, new SCIMMY.Messages.Error(err));
      send(500, { detail: String(err) });
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`, store })));
}

describe('auth-scim-push to an independent SCIM server (SCIMMY)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let target: Awaited<ReturnType<typeof startScimmyTarget>>;
  let adminOf: (method: string, path: string, body?: unknown) => Promise<Response>;
  let targetId: string;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { functions: [token, admin, scim, scimPush] });
    target = await startScimmyTarget();
  });
  after(async () => {
    await new Promise((r) => target.server.close(r));
    await h.close();
    await tdb.drop();
  });

  it('creates the users and the nested groups at the target, members pointing at the target\'s own ids', async () => {
    const acme = await makeTenant(tdb.database.db, 'acme');
    const scimToken = (await mintScimToken(tdb.database.db, acme.id, 'p')).token;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await h.fetch(path, { method, headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return (await res.json()) as Json;
    };
    const alice = await call('POST', '/auth/acme/scim/v2/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice' });
    const backend = await call('POST', '/auth/acme/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'eng-backend', members: [{ value: alice.id, type: 'User' }] });
    await call('POST', '/auth/acme/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'eng', members: [{ value: backend.id, type: 'Group' }] });
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    const adminToken = ((await res.json()) as { access_token: string }).access_token;
    const admin = (method: string, path: string, body?: unknown) =>
      h.fetch(`/auth/admin/tenants/acme${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const t = (await (await admin('POST', '/scim-targets', { name: 'scimmy', url: target.url, token: TARGET_TOKEN })).json()) as Json;
    adminOf = admin;
    targetId = t.id;
    await admin('POST', `/scim-targets/${t.id}/resync`);
    const rt = await createAuthRuntime(h.hosted.find((f) => f.declaration.name === 'auth-scim-push')!.context);
    const out = await drainPushQueue(rt);
    assert.deepEqual(out, { delivered: 3, failed: 0 });
    const users = [...target.store.Users.values()];
    assert.deepEqual(users.map((u) => [u.userName, u.externalId]), [['alice', alice.id]]);
    const groups = new Map([...target.store.Groups.values()].map((g) => [g.displayName as string, g]));
    assert.deepEqual(groups.get('eng-backend')!.members.map((m: Json) => m.value), [users[0]!.id]);
    assert.deepEqual(groups.get('eng')!.members.map((m: Json) => [m.value, m.type]), [[groups.get('eng-backend')!.id, 'Group']]);
  });

  it('reconciles drift made in the target\'s store: a duplicate copy, a lost member, a foreign user', async () => {
    const alice = [...target.store.Users.values()].find((u) => u.userName === 'alice')!;
    const backend = [...target.store.Groups.values()].find((g) => g.displayName === 'eng-backend')!;
    target.store.Users.set('dup', { ...alice, id: 'dup', userName: 'alice-copy' });
    target.store.Users.set('own', { id: 'own', userName: 'local-admin', schemas: alice.schemas });
    target.store.Groups.set(backend.id, { ...backend, members: [] });
    const res = await adminOf('POST', `/scim-targets/${targetId}/reconcile`);
    assert.equal(res.status, 200);
    const o = (await res.json()) as Json;
    assert.deepEqual([o.ok, o.missing, o.changed, o.extra, o.foreign, o.deleted], [true, 0, 1, 1, 1, 1], JSON.stringify(o));
    const rt = await createAuthRuntime(h.hosted.find((f) => f.declaration.name === 'auth-scim-push')!.context);
    // The admin call started a drain of its own: wait for the queue to empty.
    for (let i = 0; i < 200; i++) {
      await drainPushQueue(rt);
      const [w] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.scim_push_queue`);
      if (w!.n === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual([...target.store.Users.keys()].sort(), [alice.id, 'own'].sort());
    assert.deepEqual(target.store.Groups.get(backend.id)!.members.map((m: Json) => m.value), [alice.id]);
    const [tenant] = await tdb.database.query<{ tenant_id: string }>(sql`select tenant_id from auth.scim_targets where id = ${targetId}`);
    const again = (await reconcileTarget(rt, tenant!.tenant_id, targetId))!;
    assert.deepEqual([again.missing, again.changed, again.extra], [0, 0, 0], JSON.stringify(again));
  });
});
