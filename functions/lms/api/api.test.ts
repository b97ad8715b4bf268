// lms-api over the platform wrapping and a real PostgreSQL: the full lifecycle, the race for the
// last seat, tenant isolation, key rotation, revocation through the signed list, and bad input.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { and, eq, sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { audit, licenses, machines, outbox } from '../core/schema.js';
import { verifyLicense } from '../core/verifier.js';
import { BASE_URL, startLmsHarness, type LmsHarness } from '../testing/harness.js';

const json = (body: unknown, token?: string, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: token.startsWith('zkl_') ? `License ${token}` : `Bearer ${token}` } : {}), ...extra },
  body: JSON.stringify(body),
});

describe('lms-api /lms/{tenant}/v1', () => {
  let tdb: TestDatabase;
  let h: LmsHarness;
  let admin: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 12 });
    h = await startLmsHarness(tdb.database);
    admin = await h.token('acme');
  });
  after(async () => {
    await h?.close();
    await tdb?.drop();
  });

  const post = async (path: string, body: unknown, token: string = admin) => h.fetch(`/lms/acme/v1${path}`, json(body, token));
  const get = (path: string, token: string | null = admin, tenant = 'acme') => h.fetch(`/lms/${tenant}/v1${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  async function setup(policy: Record<string, unknown> = {}) {
    const product = (await (await post('/products', { name: `app-${Math.random().toString(36).slice(2)}` })).json()) as { id: string };
    const pol = await post('/policies', { product: product.id, name: 'standard', maxMachines: 2, duration: 'P30D', ...policy });
    assert.equal(pol.status, 201, await pol.clone().text());
    const { id: policyId } = (await pol.json()) as { id: string };
    const lic = await post('/licenses', { policy: policyId, entitlements: ['pro', 'sso'], metadata: { customer: 'Initech' } });
    assert.equal(lic.status, 201);
    const { id, key } = (await lic.json()) as { id: string; key: string };
    return { productId: product.id, policyId, id, key };
  }
  const jwksOf = async (productId: string) => (await (await h.fetch(`/lms/acme/products/${productId}/jwks.json`)).json()) as JSONWebKeySet;
  const validate = async (key: string, fingerprint?: string, tenant = 'acme') =>
    (await (await h.fetch(`/lms/${tenant}/v1/licenses/validate`, json({ key, ...(fingerprint ? { fingerprint } : {}) }))).json()) as { valid: boolean; code: string };

  it('runs the lifecycle: issue, validate, activate, check-in, check-out, suspend, reinstate, revoke', async () => {
    const { productId, id, key } = await setup();
    assert.match(key, /^zkl_/);
    assert.deepEqual(await validate(key).then((v) => [v.valid, v.code]), [true, 'VALID']);
    assert.equal((await validate(key, 'fp-one')).code, 'NO_MACHINES');

    const act = await post(`/licenses/${id}/machines`, { fingerprint: 'fp-one', name: 'build box', platform: 'linux' }, key);
    assert.equal(act.status, 201);
    assert.equal((await validate(key, 'fp-one')).code, 'VALID');
    assert.equal((await validate(key, 'fp-two')).code, 'FINGERPRINT_SCOPE_MISMATCH');
    assert.equal((await post(`/licenses/${id}/check-in`, { fingerprint: 'fp-one' }, key)).status, 200);

    const out = await post(`/licenses/${id}/check-out`, { fingerprint: 'fp-one', ttl: 3600 }, key);
    assert.equal(out.status, 200);
    const { token } = (await out.json()) as { token: string };
    const keys = await jwksOf(productId);
    const now = Math.floor(h.clock.now.getTime() / 1000);
    const verdict = await verifyLicense(token, { keys, audience: productId, issuer: `${BASE_URL}/lms/acme`, fingerprint: 'fp-one', now });
    assert.equal(verdict.code, 'VALID');
    assert.equal(verdict.kind, 'machine');
    assert.deepEqual(verdict.claims?.entitlements, ['pro', 'sso']);
    assert.equal(verdict.claims?.exp, now + 3600);
    // Interop: plain jose, nothing of ours but the JWKS.
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys), { algorithms: ['EdDSA'], audience: productId, typ: 'machine+jwt', currentDate: h.clock.now });
    assert.equal(payload.sub, id);

    assert.equal((await post(`/licenses/${id}/suspend`, undefined)).status, 200);
    assert.equal((await validate(key)).code, 'SUSPENDED');
    const refused = await post(`/licenses/${id}/check-out`, {}, key);
    assert.equal(refused.status, 422);
    assert.equal(((await refused.json()) as { code: string }).code, 'SUSPENDED');
    assert.equal((await post(`/licenses/${id}/reinstate`, undefined)).status, 200);
    assert.equal((await validate(key)).code, 'VALID');

    assert.equal((await h.fetch(`/lms/acme/v1/licenses/${id}/machines/fp-one`, { method: 'DELETE', headers: { authorization: `License ${key}` } })).status, 204);
    assert.equal((await post(`/licenses/${id}/revoke`, undefined)).status, 200);
    assert.equal((await validate(key)).code, 'REVOKED');
    assert.equal((await post(`/licenses/${id}/reinstate`, undefined)).status, 422);
    const list = (await (await get(`/products/${productId}/revocations`)).json()) as { token: string };
    const offline = await verifyLicense(token, { keys, audience: productId, fingerprint: 'fp-one', revocations: list.token, now });
    assert.equal(offline.code, 'REVOKED');

    const types = (await tdb.database.db.select({ type: outbox.type }).from(outbox).where(eq(outbox.subject, id))).map((r) => r.type);
    assert.deepEqual(types, [
      'io.zenokube.lms.license.issued', 'io.zenokube.lms.machine.activated', 'io.zenokube.lms.license.suspended',
      'io.zenokube.lms.license.reinstated', 'io.zenokube.lms.machine.deactivated', 'io.zenokube.lms.license.revoked',
    ]);
    const actions = (await tdb.database.db.select({ action: audit.action, actor: audit.actor }).from(audit).where(eq(audit.target, id))).map((r) => `${r.action}:${r.actor}`);
    assert.deepEqual(actions, ['license.issue:admin-of-acme', 'license.suspend:admin-of-acme', 'license.reinstate:admin-of-acme', 'license.revoke:admin-of-acme']);
  });

  it('lets exactly maxMachines of many concurrent activations through', async () => {
    const { id, key } = await setup({ maxMachines: 3 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => post(`/licenses/${id}/machines`, { fingerprint: `racer-${i}` }, key)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses.filter((s) => s === 201).length, 3, String(statuses));
    assert.ok(statuses.every((s) => s === 201 || s === 422), String(statuses));
    const codes = new Set(await Promise.all(results.filter((r) => r.status === 422).map(async (r) => ((await r.json()) as { code: string }).code)));
    assert.deepEqual([...codes], ['TOO_MANY_MACHINES']);
    const [row] = await tdb.database.db.select({ n: sql<number>`count(*)::int` }).from(machines).where(eq(machines.licenseId, id));
    assert.equal(row!.n, 3);
    const again = await post(`/licenses/${id}/machines`, { fingerprint: 'racer-0' }, key);
    assert.ok(again.status === 409 || again.status === 422);
  });

  it('activates an air-gapped machine: request file in, a machine file that verifies offline out', async () => {
    const { productId, id, key } = await setup({ maxMachines: 1, floating: false });
    const request = Buffer.from(JSON.stringify({ license: id, fingerprint: 'vault-7f3a', name: 'bunker', platform: 'linux' })).toString('base64url');
    const res = await post(`/licenses/${id}/offline-activation`, { request, ttl: 86_400 }, key);
    assert.equal(res.status, 200);
    const { response, machine } = (await res.json()) as { response: string; machine: { fingerprint: string } };
    assert.equal(machine.fingerprint, 'vault-7f3a');
    const now = Math.floor(h.clock.now.getTime() / 1000);
    const keys = await jwksOf(productId);
    assert.equal((await verifyLicense(response, { keys, audience: productId, fingerprint: 'vault-7f3a', now })).code, 'VALID');
    assert.equal((await verifyLicense(response, { keys, audience: productId, fingerprint: 'elsewhere', now })).code, 'FINGERPRINT_MISMATCH');
    // The response file lost: asking again answers a new one, not a second seat.
    assert.equal((await post(`/licenses/${id}/offline-activation`, { request }, key)).status, 200);
    const other = Buffer.from(JSON.stringify({ license: id, fingerprint: 'second-box' })).toString('base64url');
    const full = await post(`/licenses/${id}/offline-activation`, { request: other }, key);
    assert.deepEqual([full.status, ((await full.json()) as { code: string }).code], [422, 'TOO_MANY_MACHINES']);
    const code = async (r: Response) => [r.status, ((await r.json()) as { code: string }).code];
    assert.deepEqual(await code(await post(`/licenses/${id}/offline-activation`, { request: 'bm90IGpzb24' }, key)), [400, 'malformed_request_file']);
    const foreign = Buffer.from(JSON.stringify({ license: '00000000-0000-4000-8000-000000000000', fingerprint: 'x1' })).toString('base64url');
    assert.deepEqual(await code(await post(`/licenses/${id}/offline-activation`, { request: foreign }, key)), [400, 'request_file_mismatch']);
  });

  it('validates with the key in the License header and no body', async () => {
    const { key } = await setup();
    const r = await h.fetch('/lms/acme/v1/licenses/validate', { method: 'POST', headers: { authorization: `License ${key}` } });
    assert.equal(((await r.json()) as { code: string }).code, 'VALID');
  });

  it('opens nothing with a license row forged by a database writer', async () => {
    const { id } = await setup();
    const chosen = `zkl_${'F'.repeat(43)}`;
    const [row] = await tdb.database.db.select().from(licenses).where(eq(licenses.id, id));
    const { createHash } = await import('node:crypto');
    await tdb.database.db.insert(licenses).values({ ...row!, id: '11111111-1111-4111-8111-111111111111', keyHash: createHash('sha256').update(chosen).digest('hex') });
    assert.equal((await validate(chosen)).code, 'NOT_FOUND');
    assert.equal((await post('/licenses/11111111-1111-4111-8111-111111111111/check-out', {}, chosen)).status, 401);
  });

  it('rotates the product key: old tokens still verify, new ones carry the new kid', async () => {
    const { productId, id, key } = await setup({ maxMachines: 5 });
    const before = ((await (await post(`/licenses/${id}/check-out`, {}, key)).json()) as { token: string }).token;
    const rotated = (await (await post(`/products/${productId}/rotate-key`, undefined)).json()) as { kid: string; retired: string[] };
    assert.equal(rotated.retired.length, 1);
    const after = ((await (await post(`/licenses/${id}/check-out`, {}, key)).json()) as { token: string }).token;
    const keys = await jwksOf(productId);
    assert.equal(keys.keys.length, 2);
    const now = Math.floor(h.clock.now.getTime() / 1000);
    assert.equal((await verifyLicense(before, { keys, audience: productId, now })).code, 'VALID');
    assert.equal((await verifyLicense(after, { keys, audience: productId, now })).code, 'VALID');
    const kid = (t: string) => (JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    assert.equal(kid(after), rotated.kid);
    assert.equal(kid(before), rotated.retired[0]);
  });

  it('keeps tenants apart: tokens, keys and ids of one tenant open nothing in another', async () => {
    const { productId, id, key } = await setup();
    const globex = await h.token('globex');
    assert.equal((await get(`/licenses/${id}`, globex, 'globex')).status, 404);
    assert.equal((await get(`/products/${productId}`, globex, 'globex')).status, 404);
    assert.equal((await h.fetch(`/lms/globex/products/${productId}/jwks.json`)).status, 404);
    // globex's admin token presented at acme's API: wrong issuer.
    assert.equal((await get('/products', globex)).status, 401);
    assert.equal((await validate(key, undefined, 'globex')).code, 'NOT_FOUND');
    const foreign = await h.fetch(`/lms/globex/v1/licenses/${id}/machines`, json({ fingerprint: 'x1' }, key));
    assert.equal(foreign.status, 401);
  });

  it('refuses missing, forged, under-scoped and mistyped admin tokens; zeno:admin is enough', async () => {
    assert.equal((await get('/products', null)).status, 401);
    assert.equal((await get('/products', 'not-a-jwt')).status, 401);
    assert.equal((await get('/products', await h.token('acme', { scope: 'openid profile' }))).status, 403);
    assert.equal((await get('/products', await h.token('acme', { typ: 'JWT' }))).status, 401);
    assert.equal((await get('/products', await h.token('acme', { scope: 'openid zeno:admin' }))).status, 200);
    const { key } = await setup();
    // A license key is no admin credential.
    assert.equal((await h.fetch('/lms/acme/v1/products', { headers: { authorization: `License ${key}` } })).status, 401);
  });

  it('answers bad input with a clear 4xx problem, never a 500', async () => {
    const { id, key } = await setup();
    const code = async (r: Response) => [r.status, r.headers.get('content-type'), ((await r.json()) as { code: string }).code];
    const problem = 'application/problem+json';
    assert.deepEqual(await code(await h.fetch('/lms/acme/v1/products', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: '{"name":' })), [400, problem, 'malformed_json']);
    assert.deepEqual(await code(await h.fetch('/lms/acme/v1/products', { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${admin}` }, body: 'x' })), [415, problem, 'unsupported_media_type']);
    assert.deepEqual(await code(await post('/products', { name: 'x', extra: 1 })), [422, problem, 'validation_failed']);
    assert.deepEqual(await code(await post('/policies', { product: '00000000-0000-4000-8000-000000000000', name: 'p', maxMachines: 1 })), [404, problem, 'not_found']);
    const { productId } = await setup();
    assert.equal((await post('/products', { name: 'twice' })).status, 201);
    assert.deepEqual(await code(await post('/products', { name: 'twice' })), [409, problem, 'product_exists']);
    assert.deepEqual(await code(await post('/policies', { product: productId, name: 'standard', maxMachines: 1 })), [409, problem, 'policy_exists']);
    assert.deepEqual(await code(await post('/policies', { product: productId, name: 'locked', maxMachines: 3, floating: false })), [422, problem, 'invalid_policy']);
    assert.deepEqual(await code(await post('/policies', { product: productId, name: 'bad', maxMachines: 1, duration: 'thirty days' })), [422, problem, 'invalid_duration']);
    assert.deepEqual(await code(await post('/licenses', { policy: 'nope' })), [422, problem, 'validation_failed']);
    assert.deepEqual(await code(await post('/licenses', { policy: '00000000-0000-4000-8000-000000000000', metadata: { blob: 'x'.repeat(9000) } })), [422, problem, 'validation_failed']);
    assert.deepEqual(await code(await post('/licenses', { policy: '00000000-0000-4000-8000-000000000000', entitlements: ['bad code!'] })), [422, problem, 'validation_failed']);
    assert.deepEqual(await code(await h.fetch('/lms/acme/v1/licenses/validate', json({ key: 'zkl_short' }))), [400, problem, 'malformed_key']);
    assert.deepEqual(await code(await h.fetch('/lms/acme/v1/licenses/validate', json({}))), [400, problem, 'missing_key']);
    assert.equal((await validate(`zkl_${'A'.repeat(43)}`)).code, 'NOT_FOUND');
    assert.deepEqual(await code(await post(`/licenses/${id}/machines`, { fingerprint: 'has space' }, key)), [422, problem, 'validation_failed']);
    assert.deepEqual(await code(await post(`/licenses/${id}/machines`, { fingerprint: 'x'.repeat(300) }, key)), [422, problem, 'validation_failed']);
    assert.deepEqual(await code(await h.fetch(`/lms/acme/v1/licenses/${id}/machines/${encodeURIComponent('a b')}`, { method: 'DELETE', headers: { authorization: `License ${key}` } })), [400, problem, 'malformed_fingerprint']);
    assert.deepEqual(await code(await post(`/licenses/${id}/machines`, { fingerprint: 'ok-1' }, 'zkl_malformed')), [401, problem, 'invalid_license_key']);
    assert.deepEqual(await code(await get('/licenses/not-a-uuid')), [404, problem, 'not_found']);
    assert.deepEqual(await code(await h.fetch('/lms/Not_A_Tenant/v1/licenses/validate', json({ key }))), [404, problem, 'not_found']);
    assert.deepEqual(await code(await post(`/licenses/${id}/check-out`, { ttl: 5 }, key)), [422, problem, 'validation_failed']);
    // An endless body is cut at the limit: 413, never a hang.
    const endless = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(16_384).fill(0x20)); } });
    const r = await h.fetch('/lms/acme/v1/licenses/validate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: endless, duplex: 'half' } as RequestInit);
    assert.equal(r.status, 413);
  });

  it('expires licenses with a controlled clock: grace, the sweep and its event, renewal', async () => {
    const { id, key } = await setup({ duration: 'P1D', gracePeriod: 'PT1H', checkInInterval: 'PT6H' });
    assert.equal((await post(`/licenses/${id}/check-in`, undefined, key)).status, 200);
    h.clock.advance(7 * 3600 + 1);
    assert.equal((await validate(key)).code, 'CHECK_IN_OVERDUE');
    assert.equal((await post(`/licenses/${id}/check-in`, undefined, key)).status, 200);
    assert.equal((await validate(key)).code, 'VALID');
    h.clock.advance(17 * 3600 + 60);
    assert.equal((await post(`/licenses/${id}/check-in`, undefined, key)).status, 200);
    const grace = await validate(key);
    assert.deepEqual([grace.valid, grace.code], [true, 'VALID']);
    h.clock.advance(3600);
    assert.equal((await validate(key)).code, 'EXPIRED');
    await tdb.database.transaction(async (tx) => {
      const { sweepLicenses } = await import('../core/sweep.js');
      assert.ok((await sweepLicenses(h.runtime, tx)).expired >= 1);
    });
    const expired = await tdb.database.db.select().from(outbox).where(and(eq(outbox.subject, id), eq(outbox.type, 'io.zenokube.lms.license.expired')));
    assert.equal(expired.length, 1);
    const renewed = await post(`/licenses/${id}/renew`, undefined);
    assert.equal(renewed.status, 200);
    assert.equal(((await renewed.json()) as { status: string }).status, 'active');
    assert.equal((await validate(key)).code, 'VALID');
  });
});
