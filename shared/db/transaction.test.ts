// Transactions on postgres.js's public begin: prepared statements and statements sent without
// waiting for their answer, counted in socket writes (round trips). A failure of an unawaited
// statement must fail its transaction as an awaited one does, and a connection lost under a
// transaction must never reach the process (postgres.js would write to the dropped socket and
// throw from a timer): the transaction is run again when it never committed, and fails with the
// retryable db_connection_lost when it cannot be.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fillPlaceholders, sql } from 'drizzle-orm';
import { openDatabase, rowsOf, type Database, type Tx } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { DatabaseUnavailableError } from './errors.js';
import { compileStatement, queryInTransaction, sendInTransaction } from './pipelined.js';

/** Socket writes made while `fn` runs (every one is a message batch to the server). */
async function writesDuring(fn: () => Promise<unknown>): Promise<number> {
  const write = net.Socket.prototype.write;
  let n = 0;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    n++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
  try {
    await fn();
  } finally {
    net.Socket.prototype.write = write;
  }
  return n;
}

const count = async (database: Database) => Number((await database.query<{ n: string }>(sql`select count(*) as n from db_prepared_items`))[0]!.n);

describe('prepared statements, sendInTransaction and queryInTransaction (postgres)', () => {
  let tdb: TestDatabase;
  let database: Database;
  before(async () => {
    tdb = await createTestDatabase({ max: 1 });
    database = await openDatabase({ url: tdb.url, max: 1 });
    await database.query(sql`create table db_prepared_items (id text primary key, n int not null)`);
  });
  after(async () => {
    await database.close();
    await tdb.drop();
  });

  it('runs a statement with parameters in one round trip once it is prepared on the connection', async () => {
    const insert = (id: string) => database.query(sql`insert into db_prepared_items (id, n) values (${id}, ${1})`);
    await insert('warm');
    assert.equal(await writesDuring(() => insert('hot')), 1);
    assert.equal(await count(database), 2);
  });

  it('sends an unawaited statement with the COMMIT and commits it with the rest', async () => {
    const tx = (id: string) =>
      database.transaction(async (t) => {
        await t.execute(sql`insert into db_prepared_items (id, n) values (${`${id}-a`}, ${1})`);
        assert.equal(sendInTransaction(t, sql`insert into db_prepared_items (id, n) values (${`${id}-b`}, ${2})`), true);
      });
    await tx('warm-tx');
    const before = await count(database);
    // BEGIN (postgres.js's begin awaits it), the awaited insert, then the unawaited insert and
    // COMMIT together.
    assert.equal(await writesDuring(() => tx('tx')), 3);
    assert.equal(await count(database), before + 2);
  });

  it('fails and rolls back the transaction when the unawaited statement fails after the callback returned', async () => {
    const before = await count(database);
    await assert.rejects(
      database.transaction(async (t) => {
        await t.execute(sql`insert into db_prepared_items (id, n) values (${'kept-if-committed'}, ${1})`);
        sendInTransaction(t, sql`insert into db_prepared_items (id, n) values (${'bad'}, ${null})`);
      }),
      /null value in column "n"/,
    );
    assert.equal(await count(database), before);
  });

  it("reports the unawaited statement's own error to a later statement of the callback", async () => {
    await assert.rejects(
      database.transaction(async (t) => {
        sendInTransaction(t, sql`insert into db_prepared_items (id, n) values (${'bad'}, ${null})`);
        await t.execute(sql`select 1`);
      }),
      /null value in column "n"/,
    );
  });

  it('sends a statement compiled once with its placeholders filled per call', async () => {
    const insert = compileStatement(sql`insert into db_prepared_items (id, n) values (${sql.placeholder('id')}, ${sql.placeholder('n')})`);
    await database.transaction(async (t) => {
      await t.execute(sql`select 1`);
      assert.equal(sendInTransaction(t, { sql: insert.sql, params: fillPlaceholders(insert.params, { id: 'compiled-a', n: '7' }) }), true);
    });
    assert.deepEqual([...(await database.query(sql`select id, n from db_prepared_items where id = 'compiled-a'`))], [{ id: 'compiled-a', n: 7 }]);
  });

  it('runs a compiled statement in the transaction and resolves to its rows, one round trip once prepared', async () => {
    const insert = compileStatement(
      sql`insert into db_prepared_items (id, n) values (${sql.placeholder('id')}, ${1}) on conflict do nothing returning id`,
    );
    const tx = (id: string) =>
      database.transaction(async (t) => {
        const first = await queryInTransaction<{ id: string }>(t, { sql: insert.sql, params: fillPlaceholders(insert.params, { id }) });
        const again = await queryInTransaction<{ id: string }>(t, { sql: insert.sql, params: fillPlaceholders(insert.params, { id }) });
        // postgres.js answers with its own Array subclass: compared as plain arrays.
        return [[...first!], [...again!]];
      });
    assert.deepEqual(await tx('query-warm'), [[{ id: 'query-warm' }], []]);
    let rows: unknown;
    // BEGIN, the first insert, the second insert, COMMIT.
    assert.equal(await writesDuring(async () => (rows = await tx('query-hot'))), 4);
    assert.deepEqual(rows, [[{ id: 'query-hot' }], []]);
  });

  it('rolls back what a compiled statement wrote when the transaction fails', async () => {
    const before = await count(database);
    const insert = compileStatement(sql`insert into db_prepared_items (id, n) values (${sql.placeholder('id')}, ${1}) returning id`);
    await assert.rejects(
      database.transaction(async (t) => {
        await queryInTransaction(t, { sql: insert.sql, params: fillPlaceholders(insert.params, { id: 'query-rolled-back' }) });
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.equal(await count(database), before);
  });

  it('runs no statement straight on postgres.js outside a transaction, in a savepoint or after it ended', async () => {
    const statement = compileStatement(sql`insert into db_prepared_items (id, n) values (${'never'}, ${1}) returning id`);
    assert.equal(queryInTransaction(database.db, statement), undefined);
    let escaped: object | undefined;
    await database.transaction(async (t) => {
      escaped = t;
      await t.transaction(async (nested) => {
        assert.equal(queryInTransaction(nested, statement), undefined);
      });
    });
    assert.equal(queryInTransaction(escaped!, statement), undefined);
    assert.equal((await database.query(sql`select 1 from db_prepared_items where id = 'never'`)).length, 0);
  });

  it('sends nothing outside a transaction, in a savepoint or after the transaction ended', async () => {
    const statement = sql`insert into db_prepared_items (id, n) values (${'never'}, ${1})`;
    assert.equal(sendInTransaction(database.db, statement), false);
    let escaped: object | undefined;
    await database.transaction(async (t) => {
      escaped = t;
      await t.transaction(async (nested) => {
        assert.equal(sendInTransaction(nested, statement), false);
      });
    });
    assert.equal(sendInTransaction(escaped!, statement), false);
    assert.equal((await database.query(sql`select 1 from db_prepared_items where id = 'never'`)).length, 0);
  });
});

/** The driver's error code, under drizzle's wrapping. */
const codeOf = (err: unknown) => (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;

describe('transactions on a reserved connection (postgres)', () => {
  let tdb: TestDatabase;
  let database: Database;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    database = await openDatabase({ url: tdb.url, max: 2 });
    await database.query(sql`create table db_tx_items (id text primary key, n int not null)`);
    process.on('uncaughtException', onUncaught);
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    await database.close();
    await tdb.drop();
  });
  const ids = async () => (await database.query<{ id: string }>(sql`select id from db_tx_items order by id`)).map((r) => r.id);
  /** Nothing of the lost transaction stayed, a new one commits `id`, and the table is emptied again. */
  const commitsAfterwards = async (id: string) => {
    assert.deepEqual(await ids(), []);
    await database.transaction(async (t) => {
      await t.execute(insert(id));
    });
    assert.deepEqual(await ids(), [id]);
    await database.query(sql`delete from db_tx_items`);
  };
  const insert = (id: string) => sql`insert into db_tx_items (id, n) values (${id}, ${1})`;
  /** Ends the server backend of transaction `t` from another session, as a failover or restart would. */
  const terminate = async (t: Tx) => {
    const { pid } = rowsOf<{ pid: number }>(await t.execute(sql`select pg_backend_pid() as pid`))[0]!;
    await tdb.database.query(sql`select pg_terminate_backend(${pid}::int)`);
  };

  it('rolls back everything when a statement failed, even one whose error the callback caught, and reports that failure', async () => {
    await assert.rejects(
      database.transaction(async (t) => {
        await t.execute(insert('caught-a'));
        await t.execute(sql`insert into db_tx_items (id, n) values (${'caught-b'}, ${null})`).catch(() => {});
      }),
      /null value in column "n"/,
    );
    assert.deepEqual(await ids(), []);
    // A later statement only hears that the transaction is aborted: the cause is reported instead.
    await assert.rejects(
      database.transaction(async (t) => {
        await t.execute(sql`insert into db_tx_items (id, n) values (${'caught-c'}, ${null})`).catch(() => {});
        await t.execute(insert('caught-d'));
      }),
      /null value in column "n"/,
    );
    assert.deepEqual(await ids(), []);
  });

  it('keeps the outer work when a savepoint is rolled back, and commits a released one', async () => {
    await database.transaction(async (t) => {
      await t.execute(insert('outer'));
      await assert.rejects(
        t.transaction(async (nested) => {
          await nested.execute(insert('inner-rolled-back'));
          throw new Error('inner fails');
        }),
        /inner fails/,
      );
      await t.transaction(async (nested) => {
        await nested.execute(insert('inner-kept'));
      });
    });
    assert.deepEqual(await ids(), ['inner-kept', 'outer']);
    await database.query(sql`delete from db_tx_items`);
  });

  // Mismatched answers stall the connection rather than fail: bounded in time.
  it('keeps answers in order when statements follow one that is first described on the connection', { timeout: 20_000 }, async () => {
    // A statement with parameters is described before it is bound the first time on a
    // connection: what follows it must wait, or COMMIT would reach the server ahead of it.
    const fresh = (n: number) => sql`insert into db_tx_items (id, n) values (${`described-${n}`}, ${n}) -- ${sql.raw(`variant ${n}`)}`;
    await database.transaction(async (t) => {
      assert.equal(sendInTransaction(t, fresh(1)), true);
      assert.equal(sendInTransaction(t, fresh(2)), true);
    });
    const rows = await database.transaction(async (t) => {
      sendInTransaction(t, fresh(3));
      return rowsOf<{ id: string }>(await t.execute(sql`select id from db_tx_items where id like ${'described-%'} order by id`)).map((r) => r.id);
    });
    assert.deepEqual(rows, ['described-1', 'described-2', 'described-3']);
    await database.query(sql`delete from db_tx_items`);
  });

  it('refuses a statement of a callback that outlived its transaction', async () => {
    let escaped: Tx | undefined;
    await database.transaction(async (t) => {
      escaped = t;
      await t.execute(insert('inside'));
    });
    await assert.rejects(escaped!.execute(insert('outside')), (err) => /transaction is over/.test(String((err as { cause?: unknown }).cause ?? err)));
    assert.deepEqual(await ids(), ['inside']);
    await database.query(sql`delete from db_tx_items`);
  });

  it('runs at the isolation level drizzle asks for', async () => {
    const level = await database.transaction(
      async (t) => rowsOf<{ transaction_isolation: string }>(await t.execute(sql`show transaction_isolation`))[0]!.transaction_isolation,
      { isolationLevel: 'serializable' },
    );
    assert.equal(level, 'serializable');
  });

  const lostConnection = (err: unknown) => err instanceof DatabaseUnavailableError && err.code === 'db_connection_lost';

  it('runs a transaction again when its connection was lost before COMMIT, and refuses the lost run\'s later statements', async () => {
    let runs = 0;
    let later: Promise<unknown> | undefined;
    let resume!: () => void;
    const waiting = new Promise<void>((r) => (resume = r));
    const committed = await database.transaction(async (t) => {
      const run = ++runs;
      await t.execute(insert(`lost-idle-${run}`));
      if (run === 1) {
        await terminate(t);
        // An HTTP call, say: the transaction sits idle on a connection that is closing.
        await waiting;
        later = t.execute(insert('after-loss'));
        await later;
      }
      return run;
    });
    assert.equal(committed, 2);
    resume();
    await new Promise((r) => setTimeout(r, 50));
    // drizzle wraps a statement's error: the driver's is its cause.
    await assert.rejects(later!, (err) => codeOf(err) === 'CONNECTION_CLOSED');
    assert.deepEqual(uncaught, []);
    // The first run left nothing behind; the second committed once.
    assert.deepEqual(await ids(), ['lost-idle-2']);
    await database.query(sql`delete from db_tx_items`);
    // The pool reconnects and serves every connection again.
    const ones = await Promise.all([1, 2, 3, 4].map(async () => (await database.query<{ one: number }>(sql`select 1 as one`))[0]!.one));
    assert.deepEqual(ones, [1, 1, 1, 1]);
    await commitsAfterwards('after-reconnect');
  });

  it('fails with the retryable db_connection_lost when the second run loses its connection too', async () => {
    let runs = 0;
    await assert.rejects(
      database.transaction(async (t) => {
        runs++;
        await t.execute(insert(`lost-twice-${runs}`));
        await terminate(t);
        await t.execute(sql`select pg_sleep(1)`);
      }),
      lostConnection,
    );
    assert.equal(runs, 2);
    assert.deepEqual(uncaught, []);
    await commitsAfterwards('after-two-losses');
  });

  it('runs a transaction again when the connection is lost under a running statement, and the pool goes on', async () => {
    let runs = 0;
    await database.transaction(async (t) => {
      const run = ++runs;
      await t.execute(insert(`lost-busy-${run}`));
      if (run > 1) return;
      const { pid } = rowsOf<{ pid: number }>(await t.execute(sql`select pg_backend_pid() as pid`))[0]!;
      const sleeping = t.execute(sql`select pg_sleep(5)`);
      await new Promise((r) => setTimeout(r, 50));
      await tdb.database.query(sql`select pg_terminate_backend(${pid}::int)`);
      await sleeping;
    });
    assert.equal(runs, 2);
    assert.deepEqual(uncaught, []);
    assert.deepEqual(await ids(), ['lost-busy-2']);
    await database.query(sql`delete from db_tx_items`);
    // postgres.js keeps the server's FATAL error of the statement it was running when the
    // connection dropped, and fails the first statement on the reconnected connection with it.
    // That statement never ran: the pool sends it again, and no caller sees the stale error. Two
    // statements at once use both connections of the pool, the reconnected one included.
    const settled = await Promise.allSettled([database.query(sql`select 1`), database.query(sql`select 1`)]);
    assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled']);
    await commitsAfterwards('after-busy-loss');
  });

  it('does not run again a transaction whose connection was lost while COMMIT was under way: it may have committed', async () => {
    // A deferred constraint trigger that sleeps makes COMMIT take seconds.
    await database.query(sql`create table if not exists db_tx_slow_commit (id text primary key)`);
    await database.query(sql.raw(`create or replace function db_tx_sleep() returns trigger language plpgsql as $$ begin perform pg_sleep(5); return null; end $$`));
    await database.query(sql.raw(`create constraint trigger db_tx_slow after insert on db_tx_slow_commit deferrable initially deferred for each row execute function db_tx_sleep()`));
    let runs = 0;
    let pid = 0;
    const committing = database.transaction(async (t) => {
      runs++;
      pid = rowsOf<{ pid: number }>(await t.execute(sql`select pg_backend_pid() as pid`))[0]!.pid;
      await t.execute(sql`insert into db_tx_slow_commit (id) values ('slow')`);
    });
    committing.catch(() => {});
    let inCommit = false;
    for (let i = 0; i < 500 && !inCommit; i++) {
      const rows = await tdb.database.query<{ query: string }>(sql`select query from pg_stat_activity where pid = ${pid} and state = 'active'`);
      inCommit = rows.some((r) => /^commit/i.test(r.query));
      if (!inCommit) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(inCommit, 'the transaction never reached COMMIT');
    await tdb.database.query(sql`select pg_terminate_backend(${pid}::int)`);
    await assert.rejects(committing, (err) => lostConnection(err) && /may or may not have committed/.test((err as Error).message));
    assert.equal(runs, 1);
    assert.deepEqual(uncaught, []);
    await database.query(sql`drop table db_tx_slow_commit`);
  });

  it('still runs transactions when every connection is busy, and they all commit', async () => {
    const slow = Promise.all([database.query(sql`select pg_sleep(0.2)`), database.query(sql`select pg_sleep(0.2)`)]);
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        database.transaction(async (t) => {
          await t.execute(insert(`busy-${i}`));
        }),
      ),
    );
    await slow;
    assert.deepEqual(await ids(), ['busy-0', 'busy-1', 'busy-2', 'busy-3', 'busy-4', 'busy-5']);
    await database.query(sql`delete from db_tx_items`);
  });
});
