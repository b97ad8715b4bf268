import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { backoffSeconds, LOGIN_THROTTLE, throttleVerdict } from '../core/throttle.js';
import type { Tenant } from '../core/schema.js';

describe('login throttle rules (no database)', () => {
  it('waits nothing up to the free attempts, then doubles up to the cap', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 12].map((n) => backoffSeconds(n, 3, 15, 900)), [0, 0, 0, 15, 30, 60, 900]);
  });
  it('skips the account-wide delay for an address the owner signed in from', () => {
    const now = new Date();
    const counts = { now, pair_n: 0, pair_last: null, account_n: 40, account_last: now, ip_n: 0, ip_first: null, known: false };
    const unknown = throttleVerdict(counts);
    assert.equal(unknown.reason, 'account');
    assert.ok(unknown.retryAfterSeconds! <= LOGIN_THROTTLE.accountMaxSeconds);
    assert.equal(throttleVerdict({ ...counts, known: true }).limited, false);
  });
});

describe('POST /auth/{tenant}/login: throttle by (account, address), never a lockout of the owner', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    tenant = await makeTenant(tdb.database.db, 'lock');
    await makeClient(tdb.database.db, tenant, { client_id: 'app', redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code'], scope: 'openid', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  /** One sign-in attempt from `ip` (the ingress, a trusted loopback proxy, appends the hop). */
  async function attempt(ip: string, username: string, password: string): Promise<Response> {
    const b = new Browser('Lock/1.0', { 'x-forwarded-for': ip });
    const url = `${h.baseUrl}/auth/lock/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await b.fetch(url);
    return b.submit(await page.text(), { username, password }, /\/login$/);
  }

  /** Failures written as the login endpoint writes them, from many addresses at once. */
  async function failures(account: string, ips: string[]): Promise<void> {
    for (const ip of ips) {
      await tdb.database.db.execute(sql`insert into auth.audit (tenant_id, action, outcome, actor, ip, detail)
        values (${tenant.id}, 'login', 'failure', ${account}, ${ip}, '{"reason":"bad_password"}'::jsonb)`);
    }
  }

  const throttledRows = async (account: string) =>
    tdb.database.query<{ ip: string; detail: { reason: string } }>(sql`select ip, detail from auth.audit where action = 'login.throttled' and actor = ${account} order by id`);

  it('slows the attacking address, even for the right password, while the owner signs in from another', async () => {
    await makeUser(tdb.database.db, tenant, { username: 'alice', password: 'alice-secret-pw' });
    for (let i = 0; i < LOGIN_THROTTLE.freePerPair; i++) assert.equal((await attempt('203.0.113.9', 'alice', 'guess-' + i)).status, 401);
    const slowed = await attempt('203.0.113.9', 'alice', 'alice-secret-pw');
    assert.equal(slowed.status, 429);
    assert.ok(Number(slowed.headers.get('retry-after')) > 0);
    assert.match(await slowed.text(), /Too many failed sign-in attempts/);
    assert.equal((await attempt('198.51.100.7', 'alice', 'alice-secret-pw')).status, 303);
    assert.deepEqual((await throttledRows('alice')).map((r) => [r.ip, r.detail.reason]), [['203.0.113.9', 'pair']]);
  });

  it('slows a distributed attack on an account for new addresses only, with a short cap, never for a known one', async () => {
    await makeUser(tdb.database.db, tenant, { username: 'bob', password: 'bob-secret-pw' });
    assert.equal((await attempt('192.0.2.10', 'bob', 'bob-secret-pw')).status, 303);
    await failures('bob', Array.from({ length: 40 }, (_, i) => `10.9.${i}.1`));
    const fresh = await attempt('192.0.2.99', 'bob', 'bob-secret-pw');
    assert.equal(fresh.status, 429);
    assert.ok(Number(fresh.headers.get('retry-after')) <= LOGIN_THROTTLE.accountMaxSeconds);
    assert.equal((await attempt('192.0.2.10', 'bob', 'bob-secret-pw')).status, 303, 'the owner from a known address is never held back');
    // The owner's success resets what the attacker built up: the new address may try again.
    assert.equal((await attempt('192.0.2.99', 'bob', 'bob-secret-pw')).status, 303);
    assert.deepEqual((await throttledRows('bob')).map((r) => [r.ip, r.detail.reason]), [['192.0.2.99', 'account']]);
  });

  it('stops an address that sprays many accounts, and only that address', async () => {
    await makeUser(tdb.database.db, tenant, { username: 'carol', password: 'carol-secret-pw' });
    for (let i = 0; i < LOGIN_THROTTLE.perIp; i++) await failures(`victim${i}`, ['198.18.0.66']);
    const sprayer = await attempt('198.18.0.66', 'carol', 'carol-secret-pw');
    assert.equal(sprayer.status, 429);
    assert.equal((await attempt('198.18.0.67', 'carol', 'carol-secret-pw')).status, 303);
    assert.deepEqual((await throttledRows('carol')).map((r) => r.detail.reason), ['ip']);
  });

  it('does not believe an X-Forwarded-For sent straight from an untrusted peer', async () => {
    const { requestMeta } = await import('../web/request.js');
    const rt = { trustedProxies: Object.freeze(['127.0.0.0/8']) };
    const ctx = (peer: string) => ({ env: { incoming: { socket: { remoteAddress: peer } } }, req: { header: (n: string) => (n === 'x-forwarded-for' ? '1.2.3.4' : undefined) }, get: () => undefined });
    assert.equal(requestMeta(ctx('203.0.113.50') as never, rt).ip, '203.0.113.50');
    assert.equal(requestMeta(ctx('127.0.0.1') as never, rt).ip, '1.2.3.4');
  });
});
