// Prepared statements and statements sent in a transaction without waiting for their answer:
// counted in socket writes (round trips), and a failure of an unawaited statement must fail its
// transaction as an awaited one does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fillPlaceholders, sql } from 'drizzle-orm';
import { openDatabase, type Database } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { compileStatement, queryInTransaction, sendInTransaction } from './prepared.js';

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
      database.db.transaction(async (t) => {
        await t.execute(sql`insert into db_prepared_items (id, n) values (${`${id}-a`}, ${1})`);
        assert.equal(sendInTransaction(t, sql`insert into db_prepared_items (id, n) values (${`${id}-b`}, ${2})`), true);
      });
    await tx('warm-tx');
    const before = await count(database);
    // BEGIN, the awaited insert, then the unawaited insert and COMMIT together.
    assert.equal(await writesDuring(() => tx('tx')), 3);
    assert.equal(await count(database), before + 2);
  });

  it('fails and rolls back the transaction when the unawaited statement fails after the callback returned', async () => {
    const before = await count(database);
    await assert.rejects(
      database.db.transaction(async (t) => {
        await t.execute(sql`insert into db_prepared_items (id, n) values (${'kept-if-committed'}, ${1})`);
        sendInTransaction(t, sql`insert into db_prepared_items (id, n) values (${'bad'}, ${null})`);
      }),
      /null value in column "n"/,
    );
    assert.equal(await count(database), before);
  });

  it("reports the unawaited statement's own error to a later statement of the callback", async () => {
    await assert.rejects(
      database.db.transaction(async (t) => {
        sendInTransaction(t, sql`insert into db_prepared_items (id, n) values (${'bad'}, ${null})`);
        await t.execute(sql`select 1`);
      }),
      /null value in column "n"/,
    );
  });

  it('sends a statement compiled once with its placeholders filled per call', async () => {
    const insert = compileStatement(sql`insert into db_prepared_items (id, n) values (${sql.placeholder('id')}, ${sql.placeholder('n')})`);
    await database.db.transaction(async (t) => {
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
      database.db.transaction(async (t) => {
        const first = await queryInTransaction<{ id: string }>(t, { sql: insert.sql, params: fillPlaceholders(insert.params, { id }) });
        const again = await queryInTransaction<{ id: string }>(t, { sql: insert.sql, params: fillPlaceholders(insert.params, { id }) });
        // postgres.js answers with its own Array subclass: compared as plain arrays.
        return [[...first!], [...again!]];
      });
    assert.deepEqual(await tx('query-warm'), [[{ id: 'query-warm' }], []]);
    let rows: unknown;
    // BEGIN, the two inserts, COMMIT.
    assert.equal(await writesDuring(async () => (rows = await tx('query-hot'))), 4);
    assert.deepEqual(rows, [[{ id: 'query-hot' }], []]);
  });

  it('rolls back what a compiled statement wrote when the transaction fails', async () => {
    const before = await count(database);
    const insert = compileStatement(sql`insert into db_prepared_items (id, n) values (${sql.placeholder('id')}, ${1}) returning id`);
    await assert.rejects(
      database.db.transaction(async (t) => {
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
    await database.db.transaction(async (t) => {
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
    await database.db.transaction(async (t) => {
      escaped = t;
      await t.transaction(async (nested) => {
        assert.equal(sendInTransaction(nested, statement), false);
      });
    });
    assert.equal(sendInTransaction(escaped!, statement), false);
    assert.equal((await database.query(sql`select 1 from db_prepared_items where id = 'never'`)).length, 0);
  });
});
