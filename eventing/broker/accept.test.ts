// Group commit at the broker ingress on real PostgreSQL: many concurrent events, duplicates
// inside one batch and across batches, fan-out per matching Trigger.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createEventAcceptor, type HandedDelivery } from './accept.js';
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

  it('stores the deliveries the handoff has room for claimed and hands them over with their event, the rest unclaimed', async () => {
    const triggers = [trigger('h1', { type: 'io.zenokube.t.h.done' }), trigger('h2', { type: 'io.zenokube.t.h.done' })];
    const handed: HandedDelivery[][] = [];
    const given: number[] = [];
    let woken = 0;
    let room = 3;
    const accept = createEventAcceptor(tdb.database, triggers, {
      onStored: () => woken++,
      handoff: {
        leaseMs: 60_000,
        reserve: (want) => {
          const granted = Math.min(want, room);
          room -= granted;
          return {
            size: granted,
            deliver: (deliveries) => {
              handed.push(deliveries);
              given.push(granted);
            },
          };
        },
      },
    });
    const [a, b] = [randomUUID(), randomUUID()];
    await Promise.all([a, b].map((id) => accept('default/default', attrs(id, 'io.zenokube.t.h.done'), new TextEncoder().encode(`"${id}"`))));
    const all = handed.flat();
    assert.equal(all.length, 3);
    assert.equal(given.reduce((x, y) => x + y, 0), 3);
    for (const d of all) {
      assert.equal(d.attempts, 1);
      assert.equal(d.subscriber, `http://127.0.0.1:9/${d.trigger}`);
      assert.equal(Buffer.from(d.data!).toString(), `"${d.attributes.id}"`);
    }
    const rows = await tdb.database.query<{ seq: string; attempts: number; due: boolean }>(
      sql`select d.seq::text as seq, d.attempts, d.next_attempt_at <= now() as due from eventing.deliveries d where d.trigger in ('h1', 'h2') order by d.seq`,
    );
    assert.equal(rows.length, 4);
    const claimed = new Set(all.map((d) => String(d.seq)));
    for (const r of rows) assert.deepEqual([r.attempts, r.due], claimed.has(r.seq) ? [1, false] : [0, true]);
    assert.ok(woken > 0, 'the claim loop is woken for the unclaimed delivery');
    // A duplicate creates no delivery, and its reservation is given back.
    room = 2;
    const before = given.reduce((x, y) => x + y, 0);
    await accept('default/default', attrs(a, 'io.zenokube.t.h.done'), undefined);
    assert.equal(handed.at(-1)!.length, 0);
    assert.equal(given.reduce((x, y) => x + y, 0) - before, 2);
  });

  it('keeps the same id from two sources apart', async () => {
    const accept = createEventAcceptor(tdb.database, []);
    const id = randomUUID();
    const [a, b] = await Promise.all([accept('default/default', attrs(id, 'io.zenokube.t.w.done', '/one'), undefined), accept('default/default', attrs(id, 'io.zenokube.t.w.done', '/two'), undefined)]);
    assert.equal(a.duplicate || b.duplicate, false);
  });

  it('fails only the event the database refuses, not the valid events batched with it', async () => {
    const triggers = [trigger('iso', { type: 'io.zenokube.t.iso.done' })];
    const accept = createEventAcceptor(tdb.database, triggers, { maxInFlight: 1, onStored: () => {} });
    // The first call goes out alone; the rest queue behind it and share one statement. An id of
    // 3,000 characters is past the btree limit of the (broker, source, id) index: only a caller
    // that skipped the parser's checks can send one, but it must still fail alone.
    const first = accept('default/default', attrs(randomUUID(), 'io.zenokube.t.iso.done'), undefined);
    const good = Array.from({ length: 20 }, () => randomUUID());
    // Random, so that index compression cannot shrink it under the limit.
    const bad = randomBytes(2_250).toString('base64');
    const results = await Promise.allSettled([
      first,
      ...good.slice(0, 10).map((id) => accept('default/default', attrs(id, 'io.zenokube.t.iso.done'), undefined)),
      accept('default/default', attrs(bad, 'io.zenokube.t.iso.done'), undefined),
      ...good.slice(10).map((id) => accept('default/default', attrs(id, 'io.zenokube.t.iso.done'), undefined)),
    ]);
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 1, 'only the oversized event fails');
    assert.equal(results[11]!.status, 'rejected');
    assert.equal(await n(sql`select count(*) as n from eventing.events where id = any(${`{${good.join(',')}}`}::text[])`), 20);
    assert.equal(await n(sql`select count(*) as n from eventing.deliveries where trigger = 'iso'`), 21);
  });
});
