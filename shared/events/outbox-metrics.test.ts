import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createMetrics } from '#shared/metrics/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { outboxGauges } from './outbox-metrics.js';

describe('outbox gauges (zeno_outbox_pending, zeno_outbox_oldest_pending_seconds)', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
  });
  after(async () => tdb?.drop());

  it('read the backlog of the product outbox at each scrape', async () => {
    const metrics = createMetrics({ defaults: false });
    outboxGauges(metrics, tdb.database, 'auth');
    let text = await metrics.registry.metrics();
    assert.match(text, /^zeno_outbox_pending\{product="auth"\} 0$/m);
    assert.match(text, /^zeno_outbox_oldest_pending_seconds\{product="auth"\} 0$/m);
    await tdb.database.query(sql`insert into auth.outbox (id, type, source, data, time) values
      ('e1', 'io.zenokube.auth.test.happened', '/auth/test', '{}', now() - interval '90 seconds'),
      ('e2', 'io.zenokube.auth.test.happened', '/auth/test', '{}', now() - interval '5 seconds')`);
    text = await metrics.registry.metrics();
    assert.match(text, /^zeno_outbox_pending\{product="auth"\} 2$/m);
    const oldest = Number(text.match(/^zeno_outbox_oldest_pending_seconds\{product="auth"\} ([\d.]+)$/m)?.[1]);
    assert.ok(oldest >= 90 && oldest < 120, `oldest ${oldest}`);
    await tdb.database.query(sql`delete from auth.outbox where id in ('e1', 'e2')`);
    assert.match(await metrics.registry.metrics(), /^zeno_outbox_pending\{product="auth"\} 0$/m);
  });

  it('stops counting at 100000 pending events, so a scrape stays cheap during an outage', async () => {
    const metrics = createMetrics({ defaults: false });
    outboxGauges(metrics, tdb.database, 'auth');
    await tdb.database.query(sql`insert into auth.outbox (id, type, source, data) select 'cap-' || g, 'io.zenokube.auth.test.happened', '/auth/test', '{}' from generate_series(1, 100005) g`);
    try {
      assert.match(await metrics.registry.metrics(), /^zeno_outbox_pending\{product="auth"\} 100000$/m);
    } finally {
      await tdb.database.query(sql`delete from auth.outbox where id like 'cap-%'`);
    }
  });

  it('refuses a product name that is not a schema name', () => {
    assert.throws(() => outboxGauges(createMetrics({ defaults: false }), tdb.database, 'auth; drop'), /invalid product/);
  });
});
