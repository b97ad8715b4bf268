// Writers racing on one KV path over HTTP on the real PostgreSQL: every write succeeds with its
// own consecutive version, check-and-set stays exact, and the pool is never exhausted by writers
// waiting for the path, with one api instance or two (separate pools, one unsealer).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { openDatabase, type Database } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultApi, startVaultServer, type VaultServer } from './vault-server.js';

type Answer = { status: number; body: Record<string, any> | null };

async function call(base: string, method: string, path: string, token: string | undefined, body?: object): Promise<Answer> {
  const res = await fetch(`${base}/vault/v1/${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : null };
}

/** Samples, while running, how many sessions of the database wait for an advisory lock. */
function sampleLockWaiters(url: string) {
  const pg = postgres(url, { max: 1, onnotice: () => {} });
  let max = 0;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      // pg_locks is one consistent snapshot of the lock manager (pg_stat_activity is read backend by backend).
      const [row] = await pg<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`;
      max = Math.max(max, row!.n);
      samples++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await pg.end();
      return { max, samples };
    },
  };
}

describe('vault writers on one path', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;

  before(async () => {
    // The pool vault-api runs with (its declaration's databasePool).
    tdb = await createTestDatabase({ max: 5 });
    vs = await startVaultServer(tdb.database);
    const init = await call(vs.baseUrl, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 });
    root = init.body!.root_token;
    assert.equal((await call(vs.baseUrl, 'PUT', 'sys/unseal', undefined, { key: init.body!.keys[0] })).body!.sealed, false);
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  const versionsOf = (answers: Answer[]) => answers.map((a) => a.body?.data?.version as number).sort((a, b) => a - b);
  const consecutive = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);

  it('serialises 200 concurrent writes to one path: each succeeds with its own consecutive version', async () => {
    const sampler = sampleLockWaiters(tdb.url);
    const answers = await Promise.all(consecutive(200).map((i) => call(vs.baseUrl, 'PUT', 'secret/data/hot', root, { data: { writer: i } })));
    const waiting = await sampler.stop();
    assert.deepEqual(
      answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body]),
      [],
    );
    assert.deepEqual(versionsOf(answers), consecutive(200));
    // The writers of one process queue without a connection: none of them waits in the database.
    console.log(`# 200 writes, one api: ${waiting.samples} samples of pg_locks, at most ${waiting.max} sessions waiting on a path lock`);
    assert.equal(waiting.max, 0);
    const md = await call(vs.baseUrl, 'GET', 'secret/metadata/hot', root);
    assert.equal(md.body!.data.current_version, 200);
    // The current version holds the data of the writer that was answered version 200.
    const last = answers.findIndex((a) => a.body!.data.version === 200);
    const read = await call(vs.baseUrl, 'GET', 'secret/data/hot', root);
    assert.equal(read.body!.data.metadata.version, 200);
    assert.equal(read.body!.data.data.writer, last + 1);
  });

  it('keeps check-and-set exact under contention: one writer of a version wins, the others get 400', async () => {
    const current = (await call(vs.baseUrl, 'GET', 'secret/metadata/hot', root)).body!.data.current_version as number;
    const answers = await Promise.all(consecutive(40).map((i) => call(vs.baseUrl, 'PUT', 'secret/data/hot', root, { options: { cas: current }, data: { cas: i } })));
    const won = answers.filter((a) => a.status === 200);
    assert.equal(won.length, 1);
    assert.equal(won[0]!.body!.data.version, current + 1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(a.status, 400);
      assert.deepEqual(a.body, { errors: ['check-and-set parameter did not match the current version'] });
    }
    assert.equal((await call(vs.baseUrl, 'GET', 'secret/metadata/hot', root)).body!.data.current_version, current + 1);
  });

  it('writes of new paths racing with writes of one path all succeed, the pool never timing out', async () => {
    const answers = await Promise.all([
      ...consecutive(100).map((i) => call(vs.baseUrl, 'PUT', 'secret/data/mixed', root, { data: { i } })),
      ...consecutive(100).map((i) => call(vs.baseUrl, 'PUT', `secret/data/many/${i}`, root, { data: { i } })),
    ]);
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body]), []);
    assert.deepEqual(versionsOf(answers.slice(0, 100)), consecutive(100));
    assert.ok(answers.slice(100).every((a) => a.body!.data.version === 1));
  });

  describe('two api instances on separate pools', () => {
    let second: Database;
    let api2: { baseUrl: string; close(): Promise<void> };

    before(async () => {
      second = await openDatabase({ url: tdb.url, max: 5 });
      api2 = await startVaultApi(second, vs);
    });
    after(async () => {
      await api2?.close();
      await second?.close();
    });

    it('serialises 200 concurrent writes split between them: consecutive versions, every one readable', async () => {
      const sampler = sampleLockWaiters(tdb.url);
      const answers = await Promise.all(
        consecutive(200).map((i) => call(i % 2 === 0 ? vs.baseUrl : api2.baseUrl, 'PUT', 'secret/data/shared', root, { data: { writer: i } })),
      );
      const waiting = await sampler.stop();
      assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body]), []);
      assert.deepEqual(versionsOf(answers), consecutive(200));
      // At most one writer per process is in the database at a time: one holds the path, the other may wait.
      console.log(`# 200 writes, two apis: ${waiting.samples} samples of pg_locks, at most ${waiting.max} sessions waiting on a path lock`);
      assert.ok(waiting.max <= 1, `${waiting.max} sessions waited on the path lock`);
      // Versions written after a DEK was minted under the lock decrypt like the others (the
      // envelope binds the version): every version kept is readable with its writer's data.
      const byVersion = new Map(answers.map((a, i) => [a.body!.data.version as number, i + 1]));
      for (const v of consecutive(10, 191)) {
        const read = await call(api2.baseUrl, 'GET', `secret/data/shared?version=${v}`, root);
        assert.equal(read.status, 200, `version ${v}`);
        assert.equal(read.body!.data.data.writer, byVersion.get(v));
      }
      const rows = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.kv_versions where path = 'shared'`);
      assert.equal(rows[0]!.n, 10, 'max_versions (10) kept, the rest pruned');
    });
  });
});
