// lms-api's updates and deletions over a real PostgreSQL: PATCH and DELETE of products, policies,
// licenses and entitlements, their audit rows and events, the refusals (in use, unknown, another
// tenant's, malformed or unknown fields) and the audit row of a refused admin attempt.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { and, desc, eq, sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { audit, licenses, machines, outbox, policies, products, signingKeys } from '../core/schema.js';
import { startLmsHarness, type LmsHarness } from '../testing/harness.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describe('lms-api updates and deletions', () => {
  let tdb: TestDatabase;
  let h: LmsHarness;
  let admin: string;
  let globex: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 8 });
    h = await startLmsHarness(tdb.database);
    admin = await h.token('acme');
    globex = await h.token('globex');
  });
  after(async () => {
    await h?.close();
    await tdb?.drop();
  });

  const call = (method: string, path: string, body?: unknown, opts: { token?: string | null; tenant?: string; raw?: string; license?: string } = {}) => {
    const token = opts.token === undefined ? admin : opts.token;
    const headers: Record<string, string> = {};
    if (opts.license) headers.authorization = `License ${opts.license}`;
    else if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
    return h.fetch(`/lms/${opts.tenant ?? 'acme'}/v1${path}`, { method, headers, ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
  };
  const ok = async <T = Record<string, unknown>>(r: Response, status = 200): Promise<T> => {
    assert.equal(r.status, status, await r.clone().text());
    return (status === 204 ? undefined : await r.json()) as T;
  };
  const code = async (r: Response) => [r.status, ((await r.json()) as { code: string }).code];
  const lastAudit = async (target: string) =>
    (await tdb.database.db.select().from(audit).where(eq(audit.target, target)).orderBy(desc(audit.id)).limit(1))[0];

  async function setup(policy: Record<string, unknown> = {}) {
    const product = await ok<{ id: string }>(await call('POST', '/products', { name: `app-${Math.random().toString(36).slice(2)}` }), 201);
    const pol = await ok<{ id: string }>(await call('POST', '/policies', { product: product.id, name: 'standard', maxMachines: 2, duration: 'P30D', ...policy }), 201);
    const lic = await ok<{ id: string; key: string }>(await call('POST', '/licenses', { policy: pol.id, entitlements: ['pro'], metadata: { customer: 'Initech' }, owner: 'ops@initech.example' }), 201);
    return { productId: product.id, policyId: pol.id, id: lic.id, key: lic.key };
  }
  const validate = async (key: string, fingerprint?: string) =>
    (await (await call('POST', '/licenses/validate', { key, ...(fingerprint ? { fingerprint } : {}) }, { token: null })).json()) as { valid: boolean; code: string };

  it('renames a product and refuses its deletion while policies or licenses use it', async () => {
    const { productId, policyId, id } = await setup();
    const renamed = await ok<{ id: string; name: string }>(await call('PATCH', `/products/${productId}`, { name: 'renamed-app' }));
    assert.deepEqual([renamed.id, renamed.name], [productId, 'renamed-app']);
    assert.equal((await ok<{ name: string }>(await call('GET', `/products/${productId}`))).name, 'renamed-app');
    assert.equal((await lastAudit(productId))?.action, 'product.update');

    assert.deepEqual(await code(await call('DELETE', `/products/${productId}`)), [409, 'product_in_use']);
    await ok(await call('DELETE', `/licenses/${id}`), 204);
    assert.deepEqual(await code(await call('DELETE', `/products/${productId}`)), [409, 'product_in_use']);
    await ok(await call('DELETE', `/policies/${policyId}`), 204);
    await ok(await call('DELETE', `/products/${productId}`), 204);
    assert.equal((await call('GET', `/products/${productId}`)).status, 404);
    assert.equal((await tdb.database.db.select().from(signingKeys).where(eq(signingKeys.productId, productId))).length, 0);
    assert.equal((await h.fetch(`/lms/acme/products/${productId}/jwks.json`)).status, 404);
    const a = await lastAudit(productId);
    assert.deepEqual([a?.action, a?.outcome, a?.actor], ['product.delete', 'success', 'admin-of-acme']);
    assert.deepEqual(await code(await call('DELETE', `/products/${productId}`)), [404, 'not_found']);
  });

  it('refuses a rename onto an existing product name, and keeps the first name', async () => {
    const one = await ok<{ id: string }>(await call('POST', '/products', { name: 'taken-name' }), 201);
    const two = await ok<{ id: string }>(await call('POST', '/products', { name: 'other-name' }), 201);
    assert.deepEqual(await code(await call('PATCH', `/products/${two.id}`, { name: 'taken-name' })), [409, 'product_exists']);
    assert.equal((await ok<{ name: string }>(await call('GET', `/products/${two.id}`))).name, 'other-name');
    assert.equal((await ok<{ name: string }>(await call('GET', `/products/${one.id}`))).name, 'taken-name');
  });

  it("changes a policy's terms; a lower maxMachines deactivates no one but stops new activations", async () => {
    const { policyId, id, key } = await setup({ maxMachines: 3 });
    for (const fp of ['fp-1', 'fp-2', 'fp-3']) await ok(await call('POST', `/licenses/${id}/machines`, { fingerprint: fp }, { license: key }), 201);
    const changed = await ok<{ maxMachines: number; name: string; duration: string | null; gracePeriodSeconds: number }>(
      await call('PATCH', `/policies/${policyId}`, { maxMachines: 2, name: 'smaller', gracePeriod: 'PT1H' }),
    );
    assert.deepEqual([changed.maxMachines, changed.name, changed.duration, changed.gracePeriodSeconds], [2, 'smaller', 'P30D', 3600]);
    // All three machines stay; validation says so, check-in still works, a fourth is refused.
    const [row] = await tdb.database.db.select({ n: sql<number>`count(*)::int` }).from(machines).where(eq(machines.licenseId, id));
    assert.equal(row!.n, 3);
    assert.equal((await validate(key)).code, 'TOO_MANY_MACHINES');
    assert.equal((await call('POST', `/licenses/${id}/check-in`, { fingerprint: 'fp-1' }, { license: key })).status, 200);
    assert.deepEqual(await code(await call('POST', `/licenses/${id}/machines`, { fingerprint: 'fp-4' }, { license: key })), [422, 'TOO_MANY_MACHINES']);
    // One deactivated: within the limit again.
    await ok(await h.fetch(`/lms/acme/v1/licenses/${id}/machines/fp-3`, { method: 'DELETE', headers: { authorization: `License ${key}` } }), 204);
    assert.equal((await validate(key)).code, 'VALID');

    const perpetual = await ok<{ duration: string | null }>(await call('PATCH', `/policies/${policyId}`, { duration: null, checkInInterval: 'PT6H' }));
    assert.equal(perpetual.duration, null);
    assert.equal((await lastAudit(policyId))?.action, 'policy.update');
    // Node-locked needs exactly one machine, judged on the terms after the change.
    assert.deepEqual(await code(await call('PATCH', `/policies/${policyId}`, { floating: false })), [422, 'invalid_policy']);
    assert.deepEqual(await code(await call('PATCH', `/policies/${policyId}`, { duration: 'a month' })), [422, 'invalid_duration']);
    assert.deepEqual(await code(await call('PATCH', `/policies/${policyId}`, { product: UNKNOWN })), [422, 'validation_failed']);
    assert.deepEqual(await code(await call('PATCH', `/policies/${policyId}`, { maxMachines: 0 })), [422, 'validation_failed']);
    assert.equal((await ok<{ maxMachines: number; floating: boolean }>(await call('GET', `/policies/${policyId}`))).maxMachines, 2);
  });

  it("updates a license's owner, metadata and entitlements; validation sees them at once", async () => {
    const { id, key } = await setup();
    const updated = await ok<{ owner: string | null; metadata: unknown; entitlements: string[]; status: string }>(
      await call('PATCH', `/licenses/${id}`, { owner: null, metadata: { customer: 'Initrode', seats: 40 }, entitlements: ['pro', 'sso', 'sso'] }),
    );
    assert.deepEqual(updated, { ...updated, owner: null, metadata: { customer: 'Initrode', seats: 40 }, entitlements: ['pro', 'sso'], status: 'active' });
    // The new code is defined on first use, as at issue.
    assert.equal((await ok<{ code: string }>(await call('GET', '/entitlements/sso'))).code, 'sso');
    const v = await (await call('POST', '/licenses/validate', { key, entitlements: ['sso'] }, { token: null })).json() as { code: string };
    assert.equal(v.code, 'VALID');
    const a = await lastAudit(id);
    assert.deepEqual([a?.action, a?.detail], ['license.update', { changed: ['entitlements', 'metadata', 'owner'] }]);
    assert.deepEqual(await code(await call('PATCH', `/licenses/${id}`, { policy: UNKNOWN })), [422, 'validation_failed']);
    assert.deepEqual(await code(await call('PATCH', `/licenses/${id}`, { status: 'active' })), [422, 'validation_failed']);
    assert.deepEqual(await code(await call('PATCH', `/licenses/${id}`, { metadata: { blob: 'x'.repeat(9000) } })), [422, 'validation_failed']);
    assert.deepEqual(await code(await call('PATCH', `/licenses/${id}`, { entitlements: ['bad code!'] })), [422, 'validation_failed']);
    // A license key is no admin credential, not even for its own license.
    assert.equal((await call('PATCH', `/licenses/${id}`, { owner: 'me' }, { license: key })).status, 401);
  });

  it('deletes a license with its machines, in one transaction with its event and audit row', async () => {
    const { id, key } = await setup();
    await ok(await call('POST', `/licenses/${id}/machines`, { fingerprint: 'fp-a' }, { license: key }), 201);
    await ok(await call('POST', `/licenses/${id}/machines`, { fingerprint: 'fp-b' }, { license: key }), 201);
    await ok(await call('DELETE', `/licenses/${id}`), 204);
    assert.equal((await call('GET', `/licenses/${id}`)).status, 404);
    assert.equal((await tdb.database.db.select().from(machines).where(eq(machines.licenseId, id))).length, 0);
    assert.equal((await validate(key)).code, 'NOT_FOUND');
    const [event] = await tdb.database.db.select().from(outbox).where(and(eq(outbox.subject, id), eq(outbox.type, 'io.zenokube.lms.license.deleted')));
    assert.ok(event);
    assert.equal(JSON.stringify(event.data).includes('"machines":2'), true, JSON.stringify(event.data));
    const a = await lastAudit(id);
    assert.deepEqual([a?.action, a?.detail], ['license.delete', { status: 'active', machines: 2 }]);
    assert.deepEqual(await code(await call('DELETE', `/licenses/${id}`)), [404, 'not_found']);
  });

  it('reads, changes and deletes entitlements by id or code; 409 while a license holds one', async () => {
    const created = await ok<{ id: string }>(await call('POST', '/entitlements', { code: 'seats', name: 'Seats', limit: 10 }), 201);
    assert.deepEqual(await ok(await call('GET', `/entitlements/${created.id}`)), { id: created.id, code: 'seats', name: 'Seats', limit: 10 });
    assert.deepEqual(await ok(await call('PATCH', '/entitlements/seats', { limit: 25 })), { id: created.id, code: 'seats', name: 'Seats', limit: 25 });
    assert.deepEqual(await ok(await call('PATCH', `/entitlements/${created.id}`, { name: null, limit: null })), { id: created.id, code: 'seats', name: null, limit: null });
    assert.deepEqual(await code(await call('PATCH', '/entitlements/seats', { code: 'other' })), [422, 'validation_failed']);
    assert.deepEqual(await code(await call('PATCH', '/entitlements/seats', { limit: -1 })), [422, 'validation_failed']);

    const { id } = await setup();
    await ok(await call('PATCH', `/licenses/${id}`, { entitlements: ['pro', 'seats'] }));
    assert.deepEqual(await code(await call('DELETE', '/entitlements/seats')), [409, 'entitlement_in_use']);
    await ok(await call('PATCH', `/licenses/${id}`, { entitlements: ['pro'] }));
    await ok(await call('DELETE', '/entitlements/seats'), 204);
    assert.deepEqual(await code(await call('GET', `/entitlements/${created.id}`)), [404, 'not_found']);
    assert.deepEqual(await code(await call('DELETE', '/entitlements/seats')), [404, 'not_found']);
    assert.deepEqual(
      (await tdb.database.db.select({ action: audit.action }).from(audit).where(eq(audit.target, created.id))).map((r) => r.action),
      ['entitlement.create', 'entitlement.update', 'entitlement.update', 'entitlement.delete'],
    );
    assert.deepEqual(await code(await call('GET', `/entitlements/${encodeURIComponent('no such!')}`)), [404, 'not_found']);
  });

  it('answers unknown ids 404, malformed bodies 400, unknown fields 422; never a 500', async () => {
    const { productId, policyId, id } = await setup();
    for (const path of [`/products/${UNKNOWN}`, `/policies/${UNKNOWN}`, `/licenses/${UNKNOWN}`, '/entitlements/unknown-code', `/entitlements/${UNKNOWN}`]) {
      const body = path.startsWith('/products') ? { name: 'x' } : {};
      assert.deepEqual(await code(await call('PATCH', path, body)), [404, 'not_found'], path);
      assert.deepEqual(await code(await call('DELETE', path)), [404, 'not_found'], path);
    }
    assert.deepEqual(await code(await call('PATCH', '/products/not-a-uuid', { name: 'x' })), [404, 'not_found']);
    for (const path of [`/products/${productId}`, `/policies/${policyId}`, `/licenses/${id}`, '/entitlements/pro']) {
      assert.deepEqual(await code(await call('PATCH', path, undefined, { raw: '{"name":' })), [400, 'malformed_json'], path);
      assert.deepEqual(await code(await call('PATCH', path, { unknownField: 1 })), [422, 'validation_failed'], path);
      assert.deepEqual(await code(await call('PATCH', path, [1, 2])), [422, 'validation_failed'], path);
    }
    assert.deepEqual(await code(await call('PATCH', `/products/${productId}`, { name: '' })), [422, 'validation_failed']);
  });

  it("keeps tenants apart: another tenant's ids are 404 to PATCH and DELETE, and stay untouched", async () => {
    const { productId, policyId, id } = await setup();
    const other = { token: globex, tenant: 'globex' };
    assert.equal((await call('PATCH', `/products/${productId}`, { name: 'stolen' }, other)).status, 404);
    assert.equal((await call('DELETE', `/products/${productId}`, undefined, other)).status, 404);
    assert.equal((await call('PATCH', `/policies/${policyId}`, { maxMachines: 1 }, other)).status, 404);
    assert.equal((await call('DELETE', `/policies/${policyId}`, undefined, other)).status, 404);
    assert.equal((await call('PATCH', `/licenses/${id}`, { owner: 'mallory' }, other)).status, 404);
    assert.equal((await call('DELETE', `/licenses/${id}`, undefined, other)).status, 404);
    assert.equal((await call('GET', '/entitlements/pro', undefined, other)).status, 404);
    assert.equal((await call('PATCH', '/entitlements/pro', { limit: 1 }, other)).status, 404);
    assert.equal((await call('DELETE', '/entitlements/pro', undefined, other)).status, 404);
    // acme's admin token at globex: refused on its issuer.
    assert.equal((await call('DELETE', `/licenses/${id}`, undefined, { tenant: 'globex' })).status, 401);
    assert.equal((await ok<{ name: string }>(await call('GET', `/products/${productId}`))).name.startsWith('app-'), true);
    assert.equal((await ok<{ maxMachines: number }>(await call('GET', `/policies/${policyId}`))).maxMachines, 2);
    assert.equal((await ok<{ owner: string }>(await call('GET', `/licenses/${id}`))).owner, 'ops@initech.example');
    assert.equal((await ok<{ limit: null }>(await call('GET', '/entitlements/pro'))).limit, null);
  });

  /** Runs `request` while a transaction holds the row locked, then deletes the row and commits. */
  async function deletedWhileWaiting(table: typeof products | typeof policies, id: string, request: () => Promise<Response>): Promise<Response> {
    let pending: Promise<Response> | undefined;
    await tdb.database.transaction(async (tx) => {
      await tx.select().from(table).where(eq(table.id, id)).for('update');
      pending = request();
      // Wait (bounded only against a hang) until the request is queued behind our lock.
      for (let i = 0; ; i++) {
        const [row] = await tdb.database.db.execute<{ n: number }>(sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`).then((r) => (Array.isArray(r) ? r : (r as { rows: { n: number }[] }).rows));
        if (row!.n > 0) break;
        assert.ok(i < 2000, 'the request never waited for the lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      await tx.delete(table).where(eq(table.id, id));
    });
    return pending!;
  }

  it('answers 404, not a 500, when the product or policy is deleted while a policy or license is created under it', async () => {
    const product = await ok<{ id: string }>(await call('POST', '/products', { name: 'going-away' }), 201);
    const r1 = await deletedWhileWaiting(products, product.id, () => call('POST', '/policies', { product: product.id, name: 'late', maxMachines: 1 }));
    assert.deepEqual(await code(r1), [404, 'not_found']);
    const { policyId } = await setup();
    await tdb.database.db.delete(licenses).where(eq(licenses.policyId, policyId));
    const r2 = await deletedWhileWaiting(policies, policyId, () => call('POST', '/licenses', { policy: policyId }));
    assert.deepEqual(await code(r2), [404, 'not_found']);
    assert.equal((await tdb.database.db.select().from(licenses).where(eq(licenses.policyId, policyId))).length, 0);
  });

  it('writes an audit row for an admin attempt refused to a genuine token, none for 401s anyone can send, and changes nothing', async () => {
    const { id } = await setup();
    const refusedRows = async () => (await tdb.database.db.select({ n: sql<number>`count(*)::int` }).from(audit).where(eq(audit.action, 'admin.refused')))[0]!.n;
    const before = await refusedRows();
    // Attempts without a genuine token: no row each, or they would be a way to fill the table.
    for (let i = 0; i < 20; i++) {
      assert.equal((await call('DELETE', `/licenses/${id}`, undefined, { token: null })).status, 401);
      assert.equal((await call('DELETE', `/licenses/${id}`, undefined, { token: 'not-a-token' })).status, 401);
    }
    assert.equal(await refusedRows(), before);
    assert.equal((await call('DELETE', `/licenses/${id}`, undefined, { token: await h.token('acme', { scope: 'openid' }) })).status, 403);
    const rows = await tdb.database.db.select().from(audit).where(and(eq(audit.tenant, 'acme'), eq(audit.action, 'admin.refused'))).orderBy(desc(audit.id)).limit(1);
    assert.equal(await refusedRows(), before + 1);
    assert.deepEqual(rows.map((r) => [r.outcome, r.actor, r.detail]), [
      ['failure', null, { method: 'DELETE', route: '/lms/:tenant/v1/licenses/:id', status: 403, code: 'insufficient_scope' }],
    ]);
    assert.equal((await call('GET', `/licenses/${id}`)).status, 200);
  });
});
