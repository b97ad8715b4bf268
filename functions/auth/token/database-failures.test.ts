// The token function when the database fails it: a backend terminated under a grant's
// transaction (a failover, a restart) is run again once, and answers the retryable
// temporarily_unavailable (503, Retry-After) when it cannot be, never a 500; a pool whose every
// connection is held answers grants with 503 at the pool wait deadline, fails /readyz at once,
// and fails /healthz once it has stayed stuck past the stall liveness threshold.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { sha256Hex } from '../core/crypto.js';
import type { Client, Tenant, User } from '../core/schema.js';
import { basicAuth, form, makeClient, makeTenant, makeUser, makeWebClientFixture } from '../testing/fixtures.js';
import { mintCode, mintRefreshToken } from '../testing/grants.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import token from './function.js';
import { waitFor } from '#tests/support/poll';

const REDIRECT = 'https://app.example.com/cb';
const SCOPE = 'openid';

describe('POST /auth/{tenant}/token when the database fails', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let client: Client;
  let user: User;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 10 });
    ({ tenant, user, client, secret } = await makeWebClientFixture(tdb.database.db, 'flaky', { username: 'alice', redirectUri: REDIRECT, scope: SCOPE }));
    h = await startAuthHarness(tdb.database, { functions: [token] });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const redeem = (code: string) => {
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    return h.fetch('/auth/flaky/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', secret) } });
  };

  /**
   * Redeems a fresh code while another session holds its row locked, so that the grant's
   * transaction waits inside its UPDATE; ends the backend of each run of that transaction,
   * `times` times, from outside (as a failover would), then lets the grant go on.
   */
  async function redeemWhileTerminated(times: number): Promise<Response> {
    const code = await mintCode(tdb.database.db, tenant, client, user, REDIRECT, SCOPE);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const locker = tdb.database.transaction(async (tx) => {
      await tx.execute(sql`select 1 from auth.authorization_codes where code_hash = ${sha256Hex(code)} for update`);
      locked();
      await released;
    });
    await isLocked;
    const response = redeem(code);
    const ended = new Set<number>();
    try {
      for (let n = 0; n < times; n++) {
        const pid = await waitFor('a grant waiting on the locked code', async () => {
          const rows = await tdb.database.query<{ pid: number }>(
            sql`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike 'update "auth"."authorization_codes"%'`,
          );
          return rows.map((r) => r.pid).find((p) => !ended.has(p));
        });
        ended.add(pid);
        await tdb.database.query(sql`select pg_terminate_backend(${pid}::int)`);
      }
    } finally {
      release();
      await locker;
    }
    return response;
  }

  it('issues the tokens when the backend of the grant\'s transaction is ended once: the transaction runs again', async () => {
    const res = await redeemWhileTerminated(1);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { access_token?: string };
    assert.ok(body.access_token);
  });

  it('answers 503 temporarily_unavailable with Retry-After, not a 500, when the second run loses its backend too', async () => {
    const res = await redeemWhileTerminated(2);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'temporarily_unavailable');
    assert.doesNotMatch(body.error_description, /connection|postgres|terminat/i);
  });
});

describe('the token function on a pool whose every connection is held', () => {
  let tdb: TestDatabase;
  let database: Database;
  let h: AuthHarness;
  let tenant: Tenant;
  let client: Client;
  let user: User;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    // Server timeouts far off: here the pool stays held until the test lets it go.
    database = await openDatabase({
      url: tdb.url,
      settings: { poolMax: 2, poolWaitMs: 200, stallLivenessMs: 800, statementTimeoutMs: 60_000, idleInTransactionTimeoutMs: 60_000 },
    });
    tenant = await makeTenant(database.db, 'held');
    user = await makeUser(database.db, tenant, { username: 'bob' });
    ({ client, secret } = (await makeClient(database.db, tenant, {
      client_id: 'web',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: SCOPE,
    })) as { client: Client; secret: string });
    h = await startAuthHarness(database, { functions: [token] });
  });
  after(async () => {
    await h.close();
    await database.close();
    await tdb.drop();
  });

  const probe = async (path: '/readyz' | '/healthz') => {
    const res = await h.hosted[0]!.app.request(path);
    return { status: res.status, body: (await res.json()) as { checks?: { name: string; ok: boolean }[] } };
  };

  it('answers grants with 503, fails /readyz at once and /healthz once stuck for long, and recovers when the pool frees up', async () => {
    const refresh = await mintRefreshToken(database.db, tenant, client, user, SCOPE);
    assert.equal((await probe('/readyz')).status, 200);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let holding = 0;
    let allHeld!: () => void;
    const held = new Promise<void>((r) => (allHeld = r));
    const holders = Promise.all(
      [1, 2].map(() =>
        database.transaction(async (tx) => {
          await tx.execute(sql`select 1`);
          if (++holding === 2) allHeld();
          await released;
        }),
      ),
    );
    await held;
    try {
      const body = { grant_type: 'refresh_token', refresh_token: refresh };
      const res = await h.fetch('/auth/held/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', secret) } });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');

      const notReady = await waitFor('/readyz failing', async () => {
        const r = await probe('/readyz');
        return r.status === 503 ? r : undefined;
      });
      assert.deepEqual(notReady.body.checks?.map((c) => [c.name, c.ok]), [['database pool', false]]);
      const dead = await waitFor('/healthz failing', async () => {
        const r = await probe('/healthz');
        return r.status === 503 ? r : undefined;
      });
      assert.deepEqual(dead.body.checks?.map((c) => [c.name, c.ok]), [['database pool', false]]);
    } finally {
      release();
      await holders;
    }
    assert.equal((await probe('/healthz')).status, 200);
    assert.equal((await probe('/readyz')).status, 200);
    // The refresh token was not used by the refused grant.
    const body = { grant_type: 'refresh_token', refresh_token: refresh };
    const res = await h.fetch('/auth/held/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', secret) } });
    assert.equal(res.status, 200);
  });
});
