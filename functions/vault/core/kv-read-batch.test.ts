import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createKvRowLoader } from './kv-read-batch.js';

describe('createKvRowLoader: concurrent KV reads in one statement', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    for (const p of ['a', 'b', 'c']) {
      await tdb.database.query(sql`insert into vault.kv_metadata (mount, path, current_version, seq) values ('secret/', ${p}, 2, 2)`);
      for (const v of [1, 2]) {
        await tdb.database.query(sql`insert into vault.kv_versions (mount, path, version, ciphertext, seq) values ('secret/', ${p}, ${v}, ${Buffer.from(`${p}${v}`)}, ${v})`);
      }
    }
  });
  after(async () => {
    await tdb?.drop();
  });

  /** The database, counting the statements it is sent. */
  const counting = () => {
    const db = tdb.database.db;
    const counted = { statements: 0, db: { execute: (q: Parameters<Queryable['execute']>[0]) => (counted.statements++, db.execute(q)) } as unknown as Queryable };
    return counted;
  };

  it('gives each read its own path and version, in fewer statements than reads', async () => {
    const c = counting();
    const load = createKvRowLoader(c.db, { maxInFlight: 1 });
    const asks: [string, number][] = [['a', 0], ['b', 1], ['c', 2], ['a', 1], ['missing', 0], ['b', 9], ['c', 0]];
    const rows = await Promise.all(asks.map(([p, v]) => load('secret/', p, v)));
    asks.forEach(([p, v], i) => {
      const r = rows[i];
      if (p === 'missing') return assert.equal(r, undefined);
      assert.equal(r!.path, p);
      assert.equal(Number(r!.max_version), 2);
      if (v === 9) return assert.equal(r!.v_version, null);
      assert.equal(Number(r!.v_version), v === 0 ? 2 : v);
      assert.equal(Buffer.from(r!.v_ciphertext as Uint8Array).toString(), `${p}${v === 0 ? 2 : v}`);
    });
    assert.ok(c.statements < asks.length, `${c.statements} statements for ${asks.length} reads`);
  });

  it('fails every read of a statement that fails, and serves the next ones', async () => {
    let fail = true;
    const db = tdb.database.db;
    const flaky = { execute: (q: Parameters<Queryable['execute']>[0]) => (fail ? Promise.reject(new Error('connection lost')) : db.execute(q)) } as unknown as Queryable;
    const load = createKvRowLoader(flaky, { maxInFlight: 1 });
    const failed = await Promise.allSettled([load('secret/', 'a', 0), load('secret/', 'b', 0)]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    fail = false;
    assert.equal((await load('secret/', 'a', 0))!.path, 'a');
  });
});
