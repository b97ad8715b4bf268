// The data layer on the embedded PGlite, the default of `npm start`.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { discoverMigrationSets, migrate, migrationsApplied, type MigrationSet } from '#shared/db/migrate';
import { asDatabaseUnavailable } from '#shared/db/errors';
import { compileStatement, queryInTransaction, sendInTransaction } from '#shared/db/pipelined';

function writeSet(name: string, migrations: Record<string, string>): MigrationSet {
  const dir = mkdtempSync(join(tmpdir(), `zk-pgl-${name}-`));
  mkdirSync(join(dir, 'meta'));
  const entries = Object.keys(migrations).map((tag, idx) => ({ idx, version: '7', when: idx, tag, breakpoints: true }));
  writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }));
  for (const [tag, text] of Object.entries(migrations)) writeFileSync(join(dir, `${tag}.sql`), text);
  return { name, dir };
}

export function dataLayerSuite(get: () => Database): void {
describe('data layer on PGlite', () => {
  let db: Database;
  const shop = writeSet('shop', {
    '0000_init': 'CREATE SCHEMA "shop";\n--> statement-breakpoint\nCREATE TABLE "shop"."items" ("id" serial PRIMARY KEY, "name" text NOT NULL UNIQUE);',
  });

  before(() => {
    db = get();
  });

  it('opens the embedded database when no URL is given', async () => {
    assert.equal(db.kind, 'pglite');
    assert.equal(await db.ping(), true);
  });

  it('applies only what is pending, and a second run applies nothing', async () => {
    const sets = [...discoverMigrationSets(), shop];
    assert.deepEqual(await migrate(db, sets), ['shop/0000_init']);
    assert.deepEqual(await migrate(db, sets), []);
    assert.equal(await migrationsApplied(db, sets), true);
  });

  it('commits a transaction whole or not at all', async () => {
    await db.transaction(async (tx) => {
      await tx.execute(sql`insert into shop.items (name) values ('kept')`);
    });
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute(sql`insert into shop.items (name) values ('lost')`);
        await tx.execute(sql`insert into shop.items (name) values ('kept')`); // unique violation
      }),
    );
    const rows = await db.query<{ name: string }>(sql`select name from shop.items order by name`);
    assert.deepEqual(rows.map((r) => r.name), ['kept']);
  });

  it('sends no statement ahead of the transaction: the caller of sendInTransaction runs it itself', async () => {
    await db.transaction(async (tx) => {
      assert.equal(sendInTransaction(tx, sql`insert into shop.items (name) values ('never')`), false);
    });
    assert.equal((await db.query(sql`select 1 from shop.items where name = 'never'`)).length, 0);
  });

  it('runs no statement straight on the driver: the caller of queryInTransaction runs it through drizzle', async () => {
    await db.transaction(async (tx) => {
      assert.equal(queryInTransaction(tx, compileStatement(sql`insert into shop.items (name) values ('never') returning name`)), undefined);
    });
    assert.equal((await db.query(sql`select 1 from shop.items where name = 'never'`)).length, 0);
  });

  it('fails a statement sent on the database from inside a transaction with db_pool_timeout instead of waiting for good', async () => {
    // The one connection is the transaction's: the statement would wait for it to end, and the
    // transaction for the statement.
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute(sql`insert into shop.items (name) values ('inside')`);
        await db.query(sql`select 1`);
      }),
      (err) => asDatabaseUnavailable(err)?.code === 'db_pool_timeout',
    );
    assert.deepEqual(await db.health(), { size: 1, inUse: 0, waiting: 0, stalledMs: 0 });
    const rows = await db.query<{ name: string }>(sql`select name from shop.items order by name`);
    assert.deepEqual(rows.map((r) => r.name), ['kept']);
  });

  it('runs concurrent transactions and statements one at a time, each to completion', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `turn-${String(i).padStart(2, '0')}`);
    await Promise.all(
      names.map((name, i) =>
        i % 2
          ? db.transaction(async (tx) => {
              await tx.execute(sql`insert into shop.items (name) values (${name})`);
              await tx.execute(sql`select count(*) from shop.items`);
            })
          : db.query(sql`insert into shop.items (name) values (${name})`),
      ),
    );
    const rows = await db.query<{ name: string }>(sql`select name from shop.items where name like 'turn-%' order by name`);
    assert.deepEqual(rows.map((r) => r.name), names);
    await db.query(sql`delete from shop.items where name like 'turn-%'`);
  });

  it('delivers NOTIFY to a listener only when the transaction commits', async () => {
    const got: string[] = [];
    const off = await db.listen('zk_test', (p) => got.push(p));
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute(sql`select pg_notify('zk_test', 'rolled-back')`);
        throw new Error('abort');
      }),
    );
    await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_notify('zk_test', 'committed')`);
    });
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await off();
    assert.deepEqual(got, ['committed']);
  });
});
}
