import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { createEmptyDatabase } from '#tests/support/database';
import { asDatabaseUnavailable } from './errors.js';
import { openDatabase, type Database } from './index.js';
import { migrate, migrationsApplied, MigrationError, type MigrationSet } from './migrate.js';

/** Writes a drizzle-kit-shaped migrations folder. */
function writeSet(name: string, migrations: Record<string, string>): MigrationSet {
  const dir = mkdtempSync(join(tmpdir(), `zk-mig-${name}-`));
  mkdirSync(join(dir, 'meta'));
  const entries = Object.keys(migrations).map((tag, idx) => ({ idx, version: '7', when: idx, tag, breakpoints: true }));
  writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }));
  for (const [tag, text] of Object.entries(migrations)) writeFileSync(join(dir, `${tag}.sql`), text);
  return { name, dir };
}

const base = {
  '0000_init': 'CREATE SCHEMA "shop";\n--> statement-breakpoint\nCREATE TABLE "shop"."items" ("id" serial PRIMARY KEY, "name" text NOT NULL);',
  '0001_price': 'ALTER TABLE "shop"."items" ADD COLUMN "price" integer DEFAULT 0 NOT NULL;',
};

describe('migrate (real PostgreSQL)', () => {
  let empty: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let db: Database;

  before(async () => {
    empty = await createEmptyDatabase();
    db = await openDatabase({ url: empty.url, max: 4 });
  });
  after(async () => {
    await db.close();
    await empty.drop();
  });

  it('applies every migration in journal order, then nothing the second time', async () => {
    const set = writeSet('shop', base);
    assert.deepEqual(await migrate(db, [set]), ['shop/0000_init', 'shop/0001_price']);
    assert.deepEqual(await migrate(db, [set]), []);
    await db.query(sql`insert into shop.items (name, price) values ('a', 3)`);
    assert.ok(await migrationsApplied(db, [set]));
  });

  it('reports a set as not applied until it is', async () => {
    const set = writeSet('later', { '0000_x': 'CREATE SCHEMA "later";' });
    assert.equal(await migrationsApplied(db, [set]), false);
    await migrate(db, [set]);
    assert.equal(await migrationsApplied(db, [set]), true);
  });

  it('serialises two processes migrating at once: each statement runs exactly once', async () => {
    const set = writeSet('race', {
      '0000_a': 'CREATE SCHEMA "race";\n--> statement-breakpoint\nCREATE TABLE "race"."t" ("id" int PRIMARY KEY);',
      '0001_b': 'INSERT INTO "race"."t" VALUES (1);',
    });
    const other = await openDatabase({ url: empty.url, max: 2 });
    try {
      const results = await Promise.all([migrate(db, [set]), migrate(other, [set]), migrate(db, [set])]);
      assert.equal(results.flat().length, 2, 'the two migrations were applied once in total');
      const rows = await db.query<{ n: number }>(sql`select count(*)::int as n from race.t`);
      assert.equal(rows[0]!.n, 1);
    } finally {
      await other.close();
    }
  });

  it('rolls back a set whose migration fails, leaving nothing half-done', async () => {
    const set = writeSet('half', {
      '0000_ok': 'CREATE SCHEMA "half";',
      '0001_bad': 'CREATE TABLE "half"."t" ("id" int);\n--> statement-breakpoint\nSELECT no_such_function();',
    });
    await assert.rejects(migrate(db, [set]), /no_such_function/);
    const tables = await db.query(sql`select 1 from information_schema.tables where table_schema = 'half'`);
    assert.equal(tables.length, 0, 'no table of the failed set is left behind');
    const applied = await db.query(sql`select tag from public.zeno_migrations where set_name = 'half'`);
    assert.equal(applied.length, 0);
  });

  it('refuses to run when an applied migration was edited', async () => {
    const set = writeSet('edited', { '0000_a': 'CREATE SCHEMA "edited";' });
    await migrate(db, [set]);
    writeFileSync(join(set.dir, '0000_a.sql'), 'CREATE SCHEMA "edited"; -- changed');
    await assert.rejects(migrate(db, [set]), (err: unknown) => err instanceof MigrationError && /changed after it was applied/.test(err.message));
  });

  it('runs a migration longer than the connections\' statement timeout to the end', async () => {
    const quick = await openDatabase({ url: empty.url, max: 1, settings: { statementTimeoutMs: 100 } });
    try {
      await assert.rejects(quick.query(sql`select pg_sleep(0.3)`), (err) => asDatabaseUnavailable(err)?.code === 'db_timeout');
      const slow = writeSet('slow', { '0000_slow': 'CREATE SCHEMA "slow";\n--> statement-breakpoint\nSELECT pg_sleep(0.3);' });
      assert.deepEqual(await migrate(quick, [slow]), ['slow/0000_slow']);
    } finally {
      await quick.close();
    }
  });
});
