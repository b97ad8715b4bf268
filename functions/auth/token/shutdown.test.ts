// SIGTERM while the pool is stuck: every connection is held by a grant whose transaction waits on
// a lock, and an audit row (with the token waiting on it) waits for a connection. The drain must still end and the process
// exit; it used to wait for that connection for good, before closing the database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import type { Client, Tenant, User } from '../core/schema.js';
import { basicAuth, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { mintRefreshToken } from '../testing/grants.js';
import { nodeArgs } from '#tests/support/node-args';

/** The pool size the child runs with (the platform's default). */
const POOL = 10;

describe('the token function on SIGTERM with a stuck pool', () => {
  let tdb: TestDatabase;
  let tenant: Tenant;
  let client: Client;
  let user: User;
  let secret: string;
  let child: ChildProcess | undefined;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    tenant = await makeTenant(tdb.database.db, 'draining');
    user = await makeUser(tdb.database.db, tenant, { username: 'dave' });
    ({ client, secret } = (await makeClient(tdb.database.db, tenant, {
      client_id: 'svc',
      grant_types: ['client_credentials', 'refresh_token'],
      scope: 'read',
    })) as { client: Client; secret: string });
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await tdb.drop();
  });

  it('drains within its deadlines and exits', { timeout: 120_000 }, async () => {
    child = spawn(process.execPath, nodeArgs(join(projectRoot(), 'functions', 'auth', 'testing', 'token-pod.ts')), {
      env: {
        ...process.env,
        DATABASE_URL: tdb.url,
        PORT: '0',
        HOST: '127.0.0.1',
        ZENO_LOG_LEVEL: 'error',
        ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'),
        ZENO_BOOTSTRAP_CLIENT_SECRET: randomBytes(32).toString('base64url'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child!.once('exit', (code) => reject(new Error(`the token function exited early (${code}): ${out}`)));
    });
    const grant = (body: string) =>
      fetch(`http://127.0.0.1:${port}/auth/draining/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', secret) },
        body,
      });
    const refreshes = await Promise.all(Array.from({ length: POOL }, () => mintRefreshToken(tdb.database.db, tenant, client, user, 'read')));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const locker = tdb.database.transaction(async (tx) => {
      await tx.execute(sql`lock table auth.refresh_tokens in access exclusive mode`);
      locked();
      await released;
    });
    await isLocked;
    try {
      // Tenant (cached for 5 s), client and signing keys loaded: for a while a client_credentials
      // grant needs no database, and each refresh grant goes straight to its transaction.
      assert.equal((await grant('grant_type=client_credentials')).status, 200);
      const stuck = refreshes.map((t) => grant(`grant_type=refresh_token&refresh_token=${t}`).catch(() => undefined));
      // Every connection of the child holds a grant's transaction, waiting on the lock.
      let waiting = 0;
      for (let i = 0; i < 1000 && waiting < POOL; i++) {
        const rows = await tdb.database.query<{ n: number }>(
          sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and application_name = 'zenokube' and pid <> pg_backend_pid()`,
        );
        waiting = rows[0]!.n;
        if (waiting < POOL) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(waiting, POOL);
      // Sent once the pool is stuck (not before: on a busy machine its audit row could take a
      // connection ahead of the refresh grants): the row waits for a connection that every grant
      // holds, and no token leaves until it is written.
      const unaudited = grant('grant_type=client_credentials').then((r) => r.status, () => undefined);
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      await Promise.all(stuck);
      assert.notEqual(await unaudited, 200, 'a token left without its audit row');
    } finally {
      release();
      await locker;
    }
    // The token that was answered has its row; the second grant's row may or may not have been
    // written during the drain, but its token never left.
    const issued = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'token.issued' and detail->>'grant' = 'client_credentials'`);
    assert.ok(issued[0]!.n >= 1, 'the answered client_credentials token has no audit row');
  });
});
