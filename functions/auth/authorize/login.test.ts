import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { makeClient, makeTenant } from '../testing/fixtures.js';
import { hashPassword, needsRehash } from '../core/passwords.js';
import { insertUser, updateUser } from '../core/users.js';
import type { Tenant } from '../core/schema.js';

describe('POST /auth/{tenant}/login (Argon2id, rehash, disable, audit and events)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    tenant = await makeTenant(tdb.database.db, 'login');
    await makeClient(tdb.database.db, tenant, { client_id: 'app', redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code'], scope: 'openid', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function attempt(username: string, password: string): Promise<Response> {
    const b = new Browser('Test/1.0');
    const url = `${h.baseUrl}/auth/login/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await b.fetch(url);
    return b.submit(await page.text(), { username, password }, /\/login$/);
  }

  it('upgrades a hash made under older parameters at the next successful sign-in', async () => {
    const weak = await hashPassword('old-params-pw', { memorySize: 4096, iterations: 1, parallelism: 1 });
    const user = (await insertUser(tdb.database.db, tenant.id, { username: 'olga', passwordHash: weak }))!;
    assert.equal((await attempt('olga', 'old-params-pw')).status, 303);
    const [row] = await tdb.database.query<{ password_hash: string }>(sql`select password_hash from auth.users where id = ${user.id}`);
    assert.notEqual(row!.password_hash, weak);
    assert.equal(needsRehash(row!.password_hash), false);
    assert.equal((await attempt('olga', 'old-params-pw')).status, 303);
  });

  it('lets two sign-ins be pending in one browser (tabs), each completing with its own form', async () => {
    await insertUser(tdb.database.db, tenant.id, { username: 'tabby', passwordHash: await hashPassword('two-tabs-pw') });
    const b = new Browser('Tabs/1.0');
    const url = `${h.baseUrl}/auth/login/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const first = await (await b.fetch(url)).text();
    const second = await (await b.fetch(url)).text();
    assert.equal((await b.submit(first, { username: 'tabby', password: 'two-tabs-pw' }, /\/login$/)).status, 303);
    assert.equal((await b.submit(second, { username: 'tabby', password: 'two-tabs-pw' }, /\/login$/)).status, 303);
    // A replayed form of a completed sign-in is refused.
    assert.equal((await b.submit(first, { username: 'tabby', password: 'two-tabs-pw' }, /\/login$/)).status, 400);
  });

  it('refuses a disabled account with the same message as a wrong password, and records why', async () => {
    const user = (await insertUser(tdb.database.db, tenant.id, { username: 'dave', passwordHash: await hashPassword('dave-password') }))!;
    await updateUser(tdb.database.db, tenant.id, user.id, { active: false });
    const res = await attempt('dave', 'dave-password');
    assert.equal(res.status, 401);
    assert.match(await res.text(), /Incorrect username or password/);
    const unknown = await attempt('nobody', 'whatever-pw');
    assert.equal(unknown.status, 401);
    const audit = await tdb.database.query<{ actor: string; detail: { reason: string }; user_agent: string; ip: string; request_id: string }>(
      sql`select actor, detail, user_agent, ip, request_id from auth.audit where action = 'login' and outcome = 'failure' order by id`,
    );
    assert.deepEqual(audit.map((a) => [a.actor, a.detail.reason]), [['dave', 'disabled'], ['nobody', 'unknown_user']]);
    assert.equal(audit[0]!.user_agent, 'Test/1.0');
    assert.ok(audit[0]!.ip && audit[0]!.request_id);
  });

  it('emits login events through the outbox in the sign-in transaction, without secrets', async () => {
    const rows = await tdb.database.query<{ type: string; data: Record<string, unknown> }>(sql`select type, data from auth.outbox where type like 'io.zenokube.auth.login.%' order by seq`);
    assert.ok(rows.some((r) => r.type === 'io.zenokube.auth.login.succeeded' && typeof r.data.sessionId === 'string'));
    assert.ok(rows.some((r) => r.type === 'io.zenokube.auth.login.failed' && r.data.reason === 'disabled'));
    assert.doesNotMatch(JSON.stringify(rows), /password|argon2/);
  });

  it('counts failed sign-ins by reason and accepted passwords in the /metrics exposition', async () => {
    const authorize = h.hosted.find((x) => x.declaration.name === 'auth-authorize')!;
    const scrape = async () => (await authorize.app.request('/metrics')).text();
    const count = (text: string, series: string) => Number(text.match(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'))?.[1] ?? 0);
    const before = await scrape();
    await insertUser(tdb.database.db, tenant.id, { username: 'mia', passwordHash: await hashPassword('mia-password') });
    assert.equal((await attempt('mia', 'not-her-password')).status, 401);
    assert.equal((await attempt('mia', 'not-her-password')).status, 401);
    assert.equal((await attempt('ghost', 'whatever-pw')).status, 401);
    assert.equal((await attempt('mia', 'mia-password')).status, 303);
    const after = await scrape();
    assert.equal(count(after, 'zeno_auth_login_failures_total{reason="bad_password"}') - count(before, 'zeno_auth_login_failures_total{reason="bad_password"}'), 2);
    assert.equal(count(after, 'zeno_auth_login_failures_total{reason="unknown_user"}') - count(before, 'zeno_auth_login_failures_total{reason="unknown_user"}'), 1);
    assert.equal(count(after, 'zeno_auth_logins_total') - count(before, 'zeno_auth_logins_total'), 1);
    assert.doesNotMatch(after, /mia|ghost/, 'no username in a label');
  });
});
