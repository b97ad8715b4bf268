// Three tenants on one auth stack over a real socket, for the outbound SCIM push tests: `acme`
// pushes, `globex` and `initech` are the targets' SCIM servers. The outbox events are relayed to
// the push function as the broker would, and the queue drained until it is empty.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import admin from '../admin/function.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { mintScimToken } from '../core/scim-tokens.js';
import scim from '../scim/function.js';
import { drainPushQueue } from '../scim-push/drain.js';
import scimPush from '../scim-push/function.js';
import token from '../token/function.js';
import { basicAuth, form, makeTenant } from './fixtures.js';
import { startAuthHarness, type AuthHarness } from './harness.js';

// Parsed SCIM and admin answers, read field by field by the tests.
export type Json = Record<string, any>;
export type Answer = { status: number; body: Json };
/** A SCIM call on one tenant's server, as that tenant's SCIM client. */
export type ScimCall = (method: string, path: string, body?: unknown) => Promise<Answer>;

export interface PushSites {
  readonly tdb: TestDatabase;
  readonly h: AuthHarness;
  /** The push function's runtime, to drain its queue. */
  readonly rt: AuthRuntime;
  readonly acmeId: string;
  readonly tokens: { readonly acme: string; readonly globex: string; readonly initech: string; readonly admin: string };
  readonly acme: ScimCall;
  readonly globex: ScimCall;
  readonly initech: ScimCall;
  /** The admin API under `/auth/admin/tenants/acme`. */
  adminCall(method: string, path: string, body?: unknown): Promise<Answer>;
  /** The body of an answer that must be 201. */
  created(r: Promise<Answer>): Promise<Json>;
  /** Relays the new outbox events to the push function, then drains until nothing waits and nothing died. */
  settle(): Promise<void>;
  /** The first resource of `kind` whose `attr` equals `value`, or undefined. */
  byName(tenant: ScimCall, kind: 'Users' | 'Groups', attr: string, value: string): Promise<Json | undefined>;
  close(): Promise<void>;
}

async function call(h: AuthHarness, url: string, auth: string, contentType: string, method: string, body?: unknown): Promise<Answer> {
  const res = await h.fetch(url, {
    method,
    headers: { authorization: `Bearer ${auth}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
}

export async function startPushSites(): Promise<PushSites> {
  const tdb = await createTestDatabase();
  const h = await startAuthHarness(tdb.database, { listen: true, functions: [token, admin, scim, scimPush] });
  const [acmeT, globexT, initechT] = [await makeTenant(tdb.database.db, 'acme'), await makeTenant(tdb.database.db, 'globex'), await makeTenant(tdb.database.db, 'initech')];
  const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
  const tokens = {
    acme: (await mintScimToken(tdb.database.db, acmeT.id, 'provisioning')).token,
    globex: (await mintScimToken(tdb.database.db, globexT.id, 'from-acme')).token,
    initech: (await mintScimToken(tdb.database.db, initechT.id, 'from-acme')).token,
    admin: ((await res.json()) as { access_token: string }).access_token,
  };
  const rt = await createAuthRuntime(h.hosted.find((f) => f.declaration.name === 'auth-scim-push')!.context);
  const scimOf = (tenant: 'acme' | 'globex' | 'initech'): ScimCall => (method, path, body) => call(h, `/auth/${tenant}/scim/v2${path}`, tokens[tenant], 'application/scim+json', method, body);

  let relayed = 0;
  /** Stands in for the broker: hands the new outbox events to the function as CloudEvents. */
  const relay = async () => {
    const rows = await tdb.database.query<{ seq: number; id: string; type: string; source: string; data: unknown }>(
      sql`select seq, id, type, source, data from auth.outbox where seq > ${relayed} order by seq`,
    );
    for (const e of rows) {
      relayed = Number(e.seq);
      if (!e.type.startsWith('io.zenokube.auth.user.') && !e.type.startsWith('io.zenokube.auth.group.')) continue;
      const r = await h.fetch('/_fn/auth-scim-push/_events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': e.id, 'ce-source': e.source, 'ce-type': e.type },
        body: JSON.stringify(e.data),
      });
      assert.equal(r.status, 202, await r.text());
    }
  };

  return {
    tdb,
    h,
    rt,
    acmeId: acmeT.id,
    tokens,
    acme: scimOf('acme'),
    globex: scimOf('globex'),
    initech: scimOf('initech'),
    adminCall: (method, path, body) => call(h, `/auth/admin/tenants/acme${path}`, tokens.admin, 'application/json', method, body),
    async created(r) {
      const out = await r;
      assert.equal(out.status, 201, JSON.stringify(out.body));
      return out.body;
    },
    // The function's own drain may be running too: poll until the queue is empty.
    async settle() {
      await relay();
      for (let i = 0; i < 400; i++) {
        await drainPushQueue(rt);
        const [w] = await tdb.database.query<{ n: number; dead: number }>(sql`select count(*) filter (where dead_at is null)::int as n, count(*) filter (where dead_at is not null)::int as dead from auth.scim_push_queue`);
        assert.equal(w!.dead, 0, 'no push failed');
        if (w!.n === 0) return;
        await sleep(25);
      }
      assert.fail('the push queue did not drain');
    },
    async byName(tenant, kind, attr, value) {
      return (await tenant('GET', `/${kind}?filter=${encodeURIComponent(`${attr} eq "${value}"`)}`)).body.Resources?.[0] as Json | undefined;
    },
    async close() {
      await h.close();
      await tdb.drop();
    },
  };
}
