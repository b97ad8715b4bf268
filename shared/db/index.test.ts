// The postgres.js data layer opens without fetching array types (cold start): arrays must still
// round-trip wherever the code base uses them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eq, inArray, sql } from 'drizzle-orm';
import { pgTable, serial, text, bigint } from 'drizzle-orm/pg-core';
import { openDatabase, type Database } from '#shared/db/index';
import { DatabaseUnavailableError } from '#shared/db/errors';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

const items = pgTable('db_layer_items', {
  id: serial().primaryKey(),
  tags: text().array().notNull(),
  counts: bigint({ mode: 'number' }).array(),
});

describe('openDatabase (postgres)', () => {
  let tdb: TestDatabase;
  let database: Database;
  before(async () => {
    tdb = await createTestDatabase({ max: 1 });
    database = await openDatabase({ url: tdb.url, max: 2 });
    await database.query(sql`create table db_layer_items (id serial primary key, tags text[] not null, counts bigint[])`);
  });
  after(async () => {
    await database.close();
    await tdb.drop();
  });

  it('answers ping on a fresh pool', async () => {
    const fresh = await openDatabase({ url: tdb.url, max: 1 });
    try {
      assert.equal(await fresh.ping(), true);
    } finally {
      await fresh.close();
    }
  });

  it('serves its first query on the connection it opened at start, without opening another', async () => {
    const backends = async () =>
      (await database.query<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`)).map((r) => r.pid);
    const before = new Set(await backends());
    const fresh = await openDatabase({ url: tdb.url, max: 10 });
    try {
      // A function's start path queries right away: the warm-up must not still hold the connection.
      await fresh.query(sql`select 1`);
      const opened = (await backends()).filter((pid) => !before.has(pid));
      assert.equal(opened.length, 1);
    } finally {
      await fresh.close();
    }
  });

  it('calls onConnecting once, with the first connection already opening, before it is ready', async () => {
    const pids = async () =>
      new Set((await database.query<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`)).map((r) => r.pid));
    const before = await pids();
    const events: string[] = [];
    let connecting: (() => void) | undefined;
    const calledBack = new Promise<void>((resolve) => (connecting = resolve));
    const opening = openDatabase({
      url: tdb.url,
      max: 1,
      onConnecting: () => {
        events.push('connecting');
        connecting!();
      },
    }).then((db) => {
      events.push('ready');
      return db;
    });
    await calledBack;
    assert.deepEqual(events, ['connecting']);
    // The backend appears without anything more being asked of the new database.
    let opened = 0;
    for (let i = 0; i < 500 && opened === 0; i++) {
      opened = [...(await pids())].filter((pid) => !before.has(pid)).length;
      if (opened === 0) await new Promise((r) => setTimeout(r, 10));
    }
    const fresh = await opening;
    try {
      assert.equal(opened, 1);
      assert.deepEqual(events, ['connecting', 'ready']);
    } finally {
      await fresh.close();
    }
  });

  it('calls onConnecting and still opens when the server is unreachable; the first query reports the failure', async () => {
    const url = new URL(tdb.url);
    url.port = String(await freePort());
    let calls = 0;
    const unreachable = await openDatabase({ url: url.href, max: 1, onConnecting: () => calls++ });
    try {
      assert.equal(calls, 1);
      assert.equal(await unreachable.ping(), false);
      // drizzle wraps the data layer's retryable error, which keeps the driver's as its cause.
      await assert.rejects(unreachable.query(sql`select 1`), (err: Error) => {
        const unavailable = err.cause as DatabaseUnavailableError;
        return unavailable instanceof DatabaseUnavailableError && unavailable.code === 'db_connection_lost' && (unavailable.cause as { code?: string }).code === 'ECONNREFUSED';
      });
    } finally {
      await unreachable.close();
    }
  });

  it('round-trips array columns through drizzle, including commas, quotes, braces and empty arrays', async () => {
    const tags = ['plain', 'with,comma', 'with "quotes"', '{braces}', 'back\\slash', ''];
    const [row] = await database.db.insert(items).values({ tags, counts: [1, 2, 9007199254740991] }).returning();
    assert.deepEqual(row!.tags, tags);
    assert.deepEqual(row!.counts, [1, 2, 9007199254740991]);
    const [empty] = await database.db.insert(items).values({ tags: [] }).returning();
    const read = await database.db.select().from(items).where(eq(items.id, empty!.id));
    assert.deepEqual(read[0]!.tags, []);
    assert.equal(read[0]!.counts, null);
  });

  it('binds a list through inArray and an array literal with a cast in raw SQL', async () => {
    const [a] = await database.db.insert(items).values({ tags: ['a'] }).returning();
    const [b] = await database.db.insert(items).values({ tags: ['b'] }).returning();
    const listed = await database.db.select({ id: items.id }).from(items).where(inArray(items.id, [a!.id, b!.id]));
    assert.deepEqual(listed.map((r) => r.id).sort((x, y) => x - y), [a!.id, b!.id]);
    const literal = `{${[a!.id, b!.id].join(',')}}`;
    const raw = await database.query<{ id: number }>(sql`select id from db_layer_items where id = any(${literal}::int[]) order by id`);
    assert.deepEqual(raw.map((r) => r.id), [a!.id, b!.id]);
  });

  it('returns arrays from raw SQL as JS arrays with typed elements, as with the catalog query', async () => {
    const [row] = await database.query<Record<string, unknown>>(
      sql`select ${'{a,"b,c",NULL,"NULL","x\\\\y"}'}::text[] as t, ${'{1,-2}'}::int4[] as i, ${'{9007199254740993}'}::int8[] as b,
        ${'{t,f}'}::bool[] as f, ${'{{1,2},{3,4}}'}::int4[] as m, ${'{"{\\"k\\": 1}"}'}::jsonb[] as j, '{}'::text[] as e`,
    );
    assert.deepEqual(row, { t: ['a', 'b,c', null, 'NULL', 'x\\y'], i: [1, -2], b: ['9007199254740993'], f: [true, false], m: [[1, 2], [3, 4]], j: [{ k: 1 }], e: [] });
  });

  it('binds JS arrays as parameters', async () => {
    const [row] = await database.query<Record<string, unknown>>(
      sql`select ${sql.param(['a', 'b"c', 'back\\slash', null, '{x}'])}::text[] as t, ${sql.param([3, 4])}::int4[] as i`,
    );
    assert.deepEqual(row, { t: ['a', 'b"c', 'back\\slash', null, '{x}'], i: [3, 4] });
  });

  it('filters on array membership with a bound element', async () => {
    await database.db.insert(items).values({ tags: ['needle', 'hay'] });
    const rows = await database.db.select({ tags: items.tags }).from(items).where(sql`${'needle'} = any(${items.tags})`);
    assert.deepEqual(rows.map((r) => r.tags), [['needle', 'hay']]);
  });
});
