import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createMetrics } from '#shared/metrics/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitUntil } from '#tests/support/poll';
import { poolGauges } from './pool-metrics.js';

describe('pool gauges (zeno_db_pool_connections, _in_use, zeno_db_pool_waiters)', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 1 });
  });
  after(async () => tdb?.drop());

  it('show the pool size, a connection held by a transaction and a caller waiting for it', async () => {
    const metrics = createMetrics({ defaults: false });
    poolGauges(metrics, tdb.database, 'auth-token');
    const read = async (name: string) => Number((await metrics.registry.metrics()).match(new RegExp(`^${name}\\{fn="auth-token"\\} (\\d+)$`, 'm'))?.[1]);
    assert.equal(await read('zeno_db_pool_connections'), 1);
    assert.equal(await read('zeno_db_pool_connections_in_use'), 0);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = tdb.database.transaction(async (t) => {
      await t.execute(sql`select 1`);
      await held;
    });
    await waitUntil('the transaction holds the connection', async () => (await read('zeno_db_pool_connections_in_use')) === 1);
    const queued = tdb.database.query(sql`select 1`);
    await waitUntil('the statement waits for a connection', async () => (await read('zeno_db_pool_waiters')) === 1);
    release();
    await Promise.all([tx, queued]);
    assert.equal(await read('zeno_db_pool_connections_in_use'), 0);
    assert.equal(await read('zeno_db_pool_waiters'), 0);
  });
});
