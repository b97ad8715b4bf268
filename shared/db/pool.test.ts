// The pool's bounds on PostgreSQL: a query that cannot get a connection within the pool wait
// deadline fails with the retryable db_pool_timeout (and never runs later); a statement sent on
// the pool from inside a transaction, with the pool held, fails the same way instead of waiting
// for good; every connection carries the server-side timeouts; the pool reports how long it has
// been stalled; and close() returns while a transaction never ends.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { openDatabase, rowsOf, type Database } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { asDatabaseUnavailable } from './errors.js';

const unavailable = (code: string) => (err: unknown) => asDatabaseUnavailable(err)?.code === code;

/** Opens `n` transactions that each hold a connection until `release()`; resolves once all hold one. */
async function holdConnections(database: Database, n: number): Promise<{ release(): void; done: Promise<unknown> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let holding = 0;
  let allHolding!: () => void;
  const held = new Promise<void>((r) => (allHolding = r));
  const done = Promise.all(
    Array.from({ length: n }, () =>
      database.transaction(async (tx) => {
        await tx.execute(sql`select 1`);
        if (++holding === n) allHolding();
        await released;
      }),
    ),
  );
  await held;
  return { release, done };
}

describe('the pool of connections (postgres)', () => {
  let tdb: TestDatabase;
  let database: Database;
  before(async () => {
    tdb = await createTestDatabase({ max: 1 });
    database = await openDatabase({
      url: tdb.url,
      settings: { poolMax: 2, poolWaitMs: 200, statementTimeoutMs: 1_000, idleInTransactionTimeoutMs: 2_000 },
    });
    await database.query(sql`create table db_pool_items (id text primary key)`);
  });
  after(async () => {
    await database.close();
    await tdb.drop();
  });
  const ids = async () => (await database.query<{ id: string }>(sql`select id from db_pool_items order by id`)).map((r) => r.id);

  it('fails a statement with db_pool_timeout when no connection frees up in time, and never runs it later', async () => {
    const hold = await holdConnections(database, 2);
    try {
      await assert.rejects(database.query(sql`insert into db_pool_items (id) values ('late')`), unavailable('db_pool_timeout'));
      assert.equal(database.health().waiting, 0);
    } finally {
      hold.release();
      await hold.done;
    }
    assert.deepEqual(await ids(), []);
  });

  it('fails a transaction that waits for a connection past the deadline the same way', async () => {
    const hold = await holdConnections(database, 2);
    try {
      await assert.rejects(database.transaction(async (tx) => tx.execute(sql`select 1`)), unavailable('db_pool_timeout'));
    } finally {
      hold.release();
      await hold.done;
    }
  });

  it('fails a statement sent on the pool from inside a transaction while the pool is held, instead of waiting for good', async () => {
    const hold = await holdConnections(database, 1);
    try {
      // The other connection is this transaction's: the pool has none left for the statement.
      await assert.rejects(
        database.transaction(async (tx) => {
          await tx.execute(sql`insert into db_pool_items (id) values ('inside')`);
          await database.query(sql`select 1`);
        }),
        unavailable('db_pool_timeout'),
      );
    } finally {
      hold.release();
      await hold.done;
    }
    assert.deepEqual(await ids(), []);
  });

  it('reports how long a full pool has gone without handing a connection back, and nothing once it has one free', async () => {
    assert.equal(database.health().stalledMs, 0);
    const hold = await holdConnections(database, 2);
    try {
      const first = database.health();
      assert.equal(first.inUse, 2);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(database.health().stalledMs > first.stalledMs);
      assert.equal(await database.ping(), false);
    } finally {
      hold.release();
      await hold.done;
    }
    assert.deepEqual(database.health(), { size: 2, inUse: 0, waiting: 0, stalledMs: 0 });
    assert.equal(await database.ping(), true);
  });

  it('sets statement_timeout and idle_in_transaction_session_timeout on every connection', async () => {
    const show = async () =>
      (await database.query<{ s: string; i: string }>(sql`select current_setting('statement_timeout') as s, current_setting('idle_in_transaction_session_timeout') as i`))[0];
    // Two at once: both connections of the pool answer.
    const [a, b] = await Promise.all([show(), show(), database.query(sql`select pg_sleep(0.05)`)]);
    assert.deepEqual(a, { s: '1s', i: '2s' });
    assert.deepEqual(b, { s: '1s', i: '2s' });
    const inside = await database.transaction(async (tx) => rowsOf<{ s: string }>(await tx.execute(sql`select current_setting('statement_timeout') as s`))[0]!.s);
    assert.equal(inside, '1s');
  });

  it('fails a statement that outruns statement_timeout with the retryable db_timeout', async () => {
    await assert.rejects(database.query(sql`select pg_sleep(3)`), unavailable('db_timeout'));
    assert.equal(await database.ping(), true);
  });

  it('runs again a transaction the server ended for sitting idle past idle_in_transaction_session_timeout', async () => {
    let runs = 0;
    const id = await database.transaction(async (tx) => {
      const run = ++runs;
      await tx.execute(sql`insert into db_pool_items (id) values (${`idle-${run}`})`);
      // An HTTP call that takes too long, say, on the first run only.
      if (run === 1) await new Promise((r) => setTimeout(r, 2_500));
      return `idle-${run}`;
    });
    assert.equal(id, 'idle-2');
    assert.deepEqual(await ids(), ['idle-2']);
    await database.query(sql`delete from db_pool_items`);
  });
});

describe('closing the pool (postgres)', () => {
  it('returns while a transaction never ends, and refuses the callers still waiting with db_closed', async () => {
    const tdb = await createTestDatabase({ max: 1 });
    const database = await openDatabase({ url: tdb.url, settings: { poolMax: 1, poolWaitMs: 60_000 } });
    try {
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const stuck = database.transaction(async (tx) => {
        await tx.execute(sql`select 1`);
        entered();
        await new Promise(() => {});
      });
      stuck.catch(() => {});
      await inside;
      const waiting = assert.rejects(database.query(sql`select 1`), unavailable('db_closed'));
      await database.close();
      await waiting;
      await assert.rejects(database.query(sql`select 1`), unavailable('db_closed'));
    } finally {
      await tdb.drop();
    }
  });
});
