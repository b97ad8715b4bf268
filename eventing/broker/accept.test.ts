// Group commit at the broker ingress on real PostgreSQL: many concurrent events, duplicates
// inside one batch and across batches, fan-out per matching Trigger.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createEventAcceptor } from './accept.js';
import type { Trigger } from './triggers.js';

const trigger = (name: string, filters: Record<string, string>): Trigger => ({
  name,
  broker: 'default/default',
  filters,
  subscriber: `http://127.0.0.1:9/${name}`,
  retry: 0,
  backoffPolicy: 'exponential',
  backoffDelayMs: 10,
  deadLetter: true,
  deadLetterSink: undefined,
});

describe('createEventAcceptor', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase();
  });
  after(async () => {
    await tdb?.drop();
  });

  const attrs = (id: string, type: string, source = '/t') => ({ specversion: '1.0', id, source, type });
  const n = async (q: ReturnType<typeof sql>) => Number((await tdb.database.query<{ n: string }>(q))[0]!.n);

  it('stores concurrent events with one delivery per matching Trigger', async () => {
    const triggers = [trigger('a', { type: 'io.zenokube.t.x.done' }), trigger('b', { type: 'io.zenokube.t.x.done', source: '/only' }), trigger('c', { type: 'io.zenokube.t.y.done' })];
    const accept = createEventAcceptor(tdb.database, triggers, { onStored: () => {} });
    const ids = Array.from({ length: 50 }, () => randomUUID());
    const results = await Promise.all(ids.map((id, i) => accept('default/default', attrs(id, 'io.zenokube.t.x.done', i % 2 ? '/only' : '/t'), new TextEncoder().encode(`{"i":${i}}`))));
    assert.equal(results.filter((r) => r.duplicate).length, 0);
    assert.equal(results.reduce((s, r) => s + r.deliveries, 0), 75);
    assert.equal(await n(sql`select count(*) as n from eventing.events where id = any(${`{${ids.join(',')}}`}::text[])`), 50);
    assert.equal(await n(sql`select count(*) as n from eventing.deliveries where trigger = 'b'`), 25);
    assert.equal(await n(sql`select count(*) as n from eventing.deliveries where trigger = 'c'`), 0);
    const [row] = await tdb.database.query<{ data: Uint8Array }>(sql`select data from eventing.events where id = ${ids[3]!}`);
    assert.equal(Buffer.from(row!.data).toString(), '{"i":3}');
  });

  it('stores an event sent twice at once, or again later, only once', async () => {
    const accept = createEventAcceptor(tdb.database, [trigger('d', { type: 'io.zenokube.t.z.done' })]);
    const id = randomUUID();
    const twice = await Promise.all([1, 2, 3].map(() => accept('default/default', attrs(id, 'io.zenokube.t.z.done'), undefined)));
    assert.deepEqual(twice.map((r) => r.duplicate).sort(), [false, true, true]);
    const again = await accept('default/default', attrs(id, 'io.zenokube.t.z.done'), undefined);
    assert.equal(again.duplicate, true);
    assert.equal(await n(sql`select count(*) as n from eventing.deliveries where trigger = 'd'`), 1);
  });

  it('keeps the same id from two sources apart', async () => {
    const accept = createEventAcceptor(tdb.database, []);
    const id = randomUUID();
    const [a, b] = await Promise.all([accept('default/default', attrs(id, 'io.zenokube.t.w.done', '/one'), undefined), accept('default/default', attrs(id, 'io.zenokube.t.w.done', '/two'), undefined)]);
    assert.equal(a.duplicate || b.duplicate, false);
  });
});
