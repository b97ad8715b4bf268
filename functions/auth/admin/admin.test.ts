import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { createSession, revokeSession } from '../core/sessions.js';
import { findTenantBySlug } from '../core/tenants.js';

describe('admin API /auth/admin (zeno:admin Bearer tokens)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  const call = (method: string, path: string, body?: unknown, auth = token) =>
    h.fetch(`/auth/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('creates, lists and deletes tenants, auditing each change and emitting its event', async () => {
    const created = await call('POST', '/tenants', { slug: 'globex', displayName: 'Globex' });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { issuer: string }).issuer, `${h.baseUrl}/auth/globex`);
    assert.equal((await call('POST', '/tenants', { slug: 'globex' })).status, 409);
    assert.equal((await call('POST', '/tenants', { slug: 'admin' })).status, 422);
    assert.equal((await call('POST', '/tenants', { slug: 'Bad Slug' })).status, 422);
    const list = (await (await call('GET', '/tenants')).json()) as { tenants: { slug: string }[] };
    assert.deepEqual(list.tenants.map((t) => t.slug).sort(), ['globex', 'system']);
    assert.equal((await call('DELETE', '/tenants/system')).status, 409);
    assert.equal((await call('DELETE', '/tenants/globex')).status, 204);
    assert.equal((await call('DELETE', '/tenants/globex')).status, 404);
    const audit = await tdb.database.query<{ action: string; actor: string }>(sql`select action, actor from auth.audit where action like 'tenant.%' order by id`);
    assert.deepEqual(audit.map((a) => a.action), ['tenant.created', 'tenant.deleted']);
    assert.equal(audit[0]!.actor, 'admin:zeno-admin');
    const events = await tdb.database.query<{ type: string }>(sql`select type from auth.outbox where type like 'io.zenokube.auth.tenant.%' order by seq`);
    assert.deepEqual(events.map((e) => e.type), ['io.zenokube.auth.tenant.created', 'io.zenokube.auth.tenant.deleted']);
  });

  it('manages users and clients of a tenant without ever returning hashes', async () => {
    await call('POST', '/tenants', { slug: 'initech' });
    const u = await call('POST', '/tenants/initech/users', { username: 'Peter', password: 'tps-reports-1', email: 'peter@initech.example' });
    assert.equal(u.status, 201);
    const user = (await u.json()) as Record<string, unknown>;
    assert.equal(user.username, 'peter');
    assert.equal(user.hasPassword, true);
    assert.equal(JSON.stringify(user).includes('argon2'), false);
    assert.equal((await call('POST', '/tenants/initech/users', { username: 'x', password: 'short' })).status, 422);
    assert.equal((await call('POST', '/tenants/initech/users', { username: 'peter' })).status, 409);
    const disabled = await call('PATCH', `/tenants/initech/users/${user.id}`, { active: false });
    assert.equal(((await disabled.json()) as { active: boolean }).active, false);

    const c = await call('POST', '/tenants/initech/clients', { client_id: 'web', redirect_uris: ['https://app.initech.example/cb'], grant_types: ['authorization_code', 'refresh_token'], first_party: true });
    assert.equal(c.status, 201);
    const client = (await c.json()) as Record<string, unknown>;
    assert.equal(typeof client.client_secret, 'string');
    assert.equal(client.first_party, true);
    assert.equal((await call('POST', '/tenants/initech/clients', { client_id: 'bad', redirect_uris: ['http://evil.example/cb'] })).status, 422);
    const listed = (await (await call('GET', '/tenants/initech/clients')).json()) as { clients: Record<string, unknown>[] };
    assert.equal(listed.clients.length, 1);
    assert.doesNotMatch(JSON.stringify(listed), /"client_secret"|secretHash|registrationTokenHash/);
    assert.equal((await call('DELETE', '/tenants/initech/clients/web')).status, 204);
    assert.equal((await call('DELETE', `/tenants/initech/users/${user.id}`)).status, 204);
    assert.equal((await call('DELETE', '/tenants/system/clients/zeno-admin')).status, 409);
  });

  it('rotates keys, keeping the retired public keys published', async () => {
    await call('POST', '/tenants', { slug: 'hooli' });
    const before = (await (await call('GET', '/tenants/hooli/keys')).json()) as { keys: { kid: string }[] };
    assert.equal(before.keys.length, 2);
    const rotated = (await (await call('POST', '/tenants/hooli/keys/rotate')).json()) as { created: string[]; retired: string[] };
    assert.deepEqual(rotated.retired.sort(), before.keys.map((k) => k.kid).sort());
    const jwks = (await (await h.fetch('/auth/hooli/jwks')).json()) as { keys: { kid: string }[] };
    assert.equal(jwks.keys.length, 4);
  });

  it('keeps tokens signed before a rotation valid across instances, and signs new ones with the new key', async () => {
    await call('POST', '/tenants', { slug: 'rotor' });
    const rotor = (await findTenantBySlug(tdb.database.db, 'rotor'))!;
    const { secret } = await makeClient(tdb.database.db, rotor, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' });
    const grant = async () => {
      const res = await h.fetch('/auth/rotor/token', { ...form({ grant_type: 'client_credentials' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret!) } });
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const introspect = async (t: string) =>
      ((await (await h.fetch('/auth/rotor/introspect', { ...form({ token: t }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret!) } })).json()) as { active: boolean }).active;
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid as string;
    const old = await grant();
    const rotated = (await (await call('POST', '/tenants/rotor/keys/rotate')).json()) as { created: string[]; retired: string[] };
    assert.ok(rotated.retired.includes(kidOf(old)));
    // The token function is another instance with its own key cache: its tokens stay valid either way.
    assert.equal(await introspect(old), true);
    const audit = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'key.rotated'`);
    assert.ok(audit[0]!.n >= 1);
    const jwks = (await (await h.fetch('/auth/rotor/jwks')).json()) as { keys: { kid: string }[] };
    assert.ok(jwks.keys.some((k) => k.kid === kidOf(old)) && rotated.created.every((kid) => jwks.keys.some((k) => k.kid === kid)));
  });

  it('deletes expired rows when the clean-up schedule fires, once per event id', async () => {
    const t = (await findTenantBySlug(tdb.database.db, 'system'))!;
    await tdb.database.query(sql`insert into auth.revoked_access_tokens (jti, tenant_id, expires_at) values ('old', ${t.id}, now() - interval '1 minute'), ('live', ${t.id}, now() + interval '1 hour')`);
    const tick = (id: string) =>
      h.fetch('/_fn/auth-admin/_events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/schedules/auth-cleanup', 'ce-type': 'io.zenokube.auth.cleanup.scheduled' },
        body: JSON.stringify({ schedule: 'auth-cleanup' }),
      });
    assert.equal((await tick('tick-1')).status, 202);
    const left = await tdb.database.query<{ jti: string }>(sql`select jti from auth.revoked_access_tokens order by jti`);
    assert.deepEqual(left.map((r) => r.jti), ['live']);
    const again = await tick('tick-1');
    assert.equal(again.status, 202);
    assert.equal((await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.inbox`))[0]!.n, 1);
  });

  it('pages the sessions list by id, for a tenant or one user, and refuses a malformed cursor', async () => {
    const t = await makeTenant(tdb.database.db, 'paged');
    const ann = await makeUser(tdb.database.db, t, { username: 'ann' });
    const bob = await makeUser(tdb.database.db, t, { username: 'bob' });
    const open = (userId: string) => createSession(tdb.database.db, { tenantId: t.id, userId, acr: 'urn:zenokube:acr:pwd', amr: ['pwd'], userAgent: 'Test/1', ip: '192.0.2.1' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await open(ann.id)).session.id);
    const bobs = (await open(bob.id)).session.id;
    const ended = (await open(ann.id)).session.id;
    await revokeSession(tdb.database.db, t.id, ended);
    type Page = { sessions: { id: string }[]; next?: string };
    const walk = async (query: string) => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let n = 0; n < 10; n++) {
        const res = await call('GET', `/tenants/paged/sessions?limit=2${query}${after ? `&after=${after}` : ''}`);
        assert.equal(res.status, 200);
        const page = (await res.json()) as Page;
        assert.ok(page.sessions.length <= 2);
        seen.push(...page.sessions.map((s) => s.id));
        if (!page.next) return seen;
        after = page.next;
      }
      throw new Error('the pages never ended');
    };
    assert.deepEqual(await walk(''), [...ids, bobs].sort(), 'every live session once, in id order; the ended one not');
    assert.deepEqual(await walk(`&user=${ann.id}`), [...ids].sort());
    assert.equal((await call('GET', '/tenants/paged/sessions?after=not-a-uuid')).status, 400);
    assert.equal((await call('GET', '/tenants/paged/sessions?limit=0')).status, 400);
    assert.equal((await call('GET', '/tenants/paged/sessions?limit=1001')).status, 400);
    assert.equal((await call('GET', `/tenants/paged/sessions?after=${'f'.repeat(8)}-ffff-ffff-ffff-${'f'.repeat(12)}`)).status, 200);
    const all = (await (await call('GET', '/tenants/paged/sessions')).json()) as Page;
    assert.equal(all.sessions.length, 6);
    assert.equal(all.next, undefined);
  });

  it('refuses tokens without zeno:admin, of another client or of another tenant', async () => {
    assert.equal((await call('GET', '/tenants', undefined, 'garbage')).status, 401);
    const res = await h.fetch('/auth/admin/tenants');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    const system = (await findTenantBySlug(tdb.database.db, 'system'))!;
    const { secret } = await makeClient(tdb.database.db, system, { client_id: 'robot', grant_types: ['client_credentials'], scope: 'zeno:admin' });
    const other = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials' }), headers: { ...form({}).headers, authorization: basicAuth('robot', secret!) } });
    const robotToken = ((await other.json()) as { access_token: string }).access_token;
    assert.equal((await call('GET', '/tenants', undefined, robotToken)).status, 403);
    const acme = (await (await call('POST', '/tenants', { slug: 'acme-admin' })).json()) as { slug: string };
    const acmeTenant = (await findTenantBySlug(tdb.database.db, acme.slug))!;
    const { secret: s2 } = await makeClient(tdb.database.db, acmeTenant, { client_id: 'zeno-admin', grant_types: ['client_credentials'], scope: 'zeno:admin' });
    const foreign = await h.fetch(`/auth/${acme.slug}/token`, { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', s2!) } });
    const foreignToken = ((await foreign.json()) as { access_token: string }).access_token;
    assert.equal((await call('GET', '/tenants', undefined, foreignToken)).status, 401);
  });
});
