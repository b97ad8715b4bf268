// A database connection lost under a vault request, on the real PostgreSQL: another session ends
// the request's backend (pg_terminate_backend) while the request waits on a lock. A read, or a
// write whose transaction had not reached COMMIT, is run again once and succeeds exactly once;
// lost twice, the answer is Vault's 503 with Retry-After and nothing is half written.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor, waitUntil } from '#tests/support/poll';
import { startVaultServer, type VaultServer } from './vault-server.js';

/** The path lock of functions/vault/core/kv.ts: its namespace and the hashed key. */
const PATH_LOCK_NAMESPACE = 0x6b765f77;
const UNAVAILABLE = { errors: ['storage is temporarily unavailable; retry the request'] };

describe('vault requests whose database connection is lost', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let admin: postgres.Sql;

  const call = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-vault-token': root },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? (JSON.parse(text) as Record<string, any>) : null };
  };

  /** Backends of the test database waiting on a lock of the given kind, other than `except`. */
  const waiters = async (event: 'advisory' | 'relation', except: number[] = []) =>
    (
      await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = ${event} and pid <> all(${except})`
    ).map((r) => r.pid);

  /** Waits for one new backend waiting on the lock, ends it and returns its pid. */
  const terminateNextWaiter = async (event: 'advisory' | 'relation', ended: number[]) => {
    const pid = await waitFor(`a backend waiting on a ${event} lock`, async () => (await waiters(event, ended))[0]);
    const [r] = await admin<{ ok: boolean }[]>`select pg_terminate_backend(${pid}) as ok`;
    assert.equal(r!.ok, true);
    ended.push(pid);
    return pid;
  };

  before(async () => {
    tdb = await createTestDatabase({ max: 5 });
    vs = await startVaultServer(tdb.database);
    admin = postgres(tdb.url, { max: 3, onnotice: () => {} });
    const init = await (await fetch(`${vs.baseUrl}/vault/v1/sys/init`, { method: 'PUT', body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) })).json();
    root = (init as { root_token: string }).root_token;
    await fetch(`${vs.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: (init as { keys: string[] }).keys[0] }) });
    assert.equal((await call('PUT', 'secret/data/read-me', { data: { v: 1 } })).status, 200);
  });
  after(async () => {
    await admin?.end();
    await vs?.close();
    await tdb?.drop();
  });

  /** Holds the path lock of `path` from another session while `run` goes on. */
  async function holdingPathLock<T>(path: string, run: () => Promise<T>): Promise<T> {
    const session = await admin.reserve();
    try {
      await session`select pg_advisory_lock(${PATH_LOCK_NAMESPACE}, hashtext(${`secret/\n${path}`}))`;
      return await run();
    } finally {
      await session`select pg_advisory_unlock_all()`;
      session.release();
    }
  }

  const rowsOf = async (path: string) => ({
    versions: Number((await tdb.database.query<{ n: string }>(sql`select count(*) as n from vault.kv_versions where path = ${path}`))[0]!.n),
    metadata: Number((await tdb.database.query<{ n: string }>(sql`select count(*) as n from vault.kv_metadata where path = ${path}`))[0]!.n),
  });

  it('runs a write again when its connection is lost before COMMIT, and writes it once', async () => {
    const ended: number[] = [];
    const answer = await holdingPathLock('retried', async () => {
      const pending = call('PUT', 'secret/data/retried', { data: { a: 1 } });
      await terminateNextWaiter('advisory', ended);
      // The transaction is run again on a fresh connection and waits for the lock once more.
      await waitUntil('the transaction run again', async () => (await waiters('advisory', ended)).length === 1);
      return { pending };
    }).then((x) => x.pending);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body!.data.version, 1);
    assert.deepEqual(await rowsOf('retried'), { versions: 1, metadata: 1 });
    assert.deepEqual((await call('GET', 'secret/data/retried')).body!.data.data, { a: 1 });
  });

  it("answers Vault's 503 with Retry-After when the retried write loses its connection too, writing nothing", async () => {
    const ended: number[] = [];
    const answer = await holdingPathLock('lost', async () => {
      const pending = call('PUT', 'secret/data/lost', { data: { a: 1 } });
      await terminateNextWaiter('advisory', ended);
      await terminateNextWaiter('advisory', ended);
      return { pending };
    }).then((x) => x.pending);
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body, UNAVAILABLE);
    assert.equal(answer.retryAfter, '1');
    assert.deepEqual(await rowsOf('lost'), { versions: 0, metadata: 0 });
    // The refusal is audited like any answer.
    const audited = await tdb.database.query<{ status: number }>(sql`select status from vault.audit_log where type = 'response' and path = 'secret/data/lost'`);
    assert.deepEqual(audited.map((a) => a.status), [503]);
    // Sent again, it succeeds.
    assert.equal((await call('PUT', 'secret/data/lost', { data: { a: 2 } })).body!.data.version, 1);
  });

  /** Holds an exclusive lock on vault.kv_versions from another session while `run` goes on. */
  async function holdingVersionsTable<T>(run: () => Promise<T>): Promise<T> {
    const session = await admin.reserve();
    try {
      await session`begin`;
      await session`lock table vault.kv_versions in access exclusive mode`;
      return await run();
    } finally {
      await session`rollback`;
      session.release();
    }
  }

  it('runs a read again when its connection is lost', async () => {
    const ended: number[] = [];
    const answer = await holdingVersionsTable(async () => {
      const pending = call('GET', 'secret/data/read-me');
      await terminateNextWaiter('relation', ended);
      await waitUntil('the read sent again', async () => (await waiters('relation', ended)).length === 1);
      return { pending };
    }).then((x) => x.pending);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body!.data.data, { v: 1 });
  });

  it("answers Vault's 503 with Retry-After when a read loses its connection twice", async () => {
    const ended: number[] = [];
    const answer = await holdingVersionsTable(async () => {
      const pending = call('GET', 'secret/data/read-me');
      await terminateNextWaiter('relation', ended);
      await terminateNextWaiter('relation', ended);
      return { pending };
    }).then((x) => x.pending);
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body, UNAVAILABLE);
    assert.equal(answer.retryAfter, '1');
    assert.equal((await call('GET', 'secret/data/read-me')).status, 200);
  });
});
