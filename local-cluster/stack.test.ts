// The local cluster's eventing from the declarations alone: a declared schedule fires as a
// PingSource into the Broker, and the Triggers generated from the `subscribes` of each function
// deliver it to the subscriber whose type and filters it passes, and to no other.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import { loadConfig } from '#shared/config/index';
import type { ReceivedEvent } from '#shared/events/receive';
import { defineFunction, type FunctionDeclaration, type SubscriptionDeclaration } from '#shared/function/define';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { fixtureCatalog } from '#tests/fixtures/functions/fixture/core/events';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startStack, type RunningStack } from './stack.js';
import { waitUntil } from '#tests/support/poll';

const ARCHIVED = 'io.zenokube.fixture.note.archived';
const CREATED = 'io.zenokube.fixture.note.created';
const received = new Map<string, ReceivedEvent[]>();

/** A fixture-product function with no routes that records the events it receives. */
function subscriber(name: string, subscription: SubscriptionDeclaration, schedules?: FunctionDeclaration['schedules']): FunctionDeclaration {
  return defineFunction({
    name,
    product: 'fixture',
    description: `records ${subscription.type} (test)`,
    routes: [],
    scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
    subscribes: [subscription],
    ...(schedules ? { schedules } : {}),
    load: async () => ({
      createApp: () => new Hono(),
      events: () => ({
        [subscription.type]: async (event: ReceivedEvent) => {
          received.set(name, [...(received.get(name) ?? []), event]);
        },
      }),
    }),
  });
}

describe('startStack: PingSource and Triggers from the declarations', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;

  before(async () => {
    tdb = await createTestDatabase();
    // The schedules' clock stands 200 ms before the next minute (when `* * * * *` fires) as the
    // PingSource first reads it, once the rest of the stack is up.
    let offset: number | undefined;
    const now = () => {
      const t = Date.now();
      offset ??= Math.ceil((t + 1) / 60_000) * 60_000 - 200 - t;
      return new Date(t + offset);
    };
    stack = await startStack({
      platform: { config: loadConfig({ PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error' }), log: silentLogger, metrics: createMetrics({ defaults: false }), database: tdb.database },
      declarations: [
        subscriber('fixture-ticker', { type: ARCHIVED }, [{ name: 'tick', schedule: '* * * * *', type: ARCHIVED, data: { noteId: 'tick-1' } }]),
        subscriber('fixture-elsewhere', { type: ARCHIVED, filters: { source: '/fixture/producer' } }),
        subscriber('fixture-creations', { type: CREATED }),
      ],
      catalog: fixtureCatalog,
      dispatcher: { idleMs: 200, leaseMs: 5_000 },
      now,
    });
  });
  after(async () => {
    await stack?.stop();
    await tdb?.drop();
  });

  it('declares one Trigger per subscription', () => {
    assert.deepEqual(stack.triggers.map((t) => t.subscriber.slice(`${stack.localUrl}/_fn/`.length)).sort(), [
      'fixture-creations/_events',
      'fixture-elsewhere/_events',
      'fixture-ticker/_events',
    ]);
  });

  it('fires the schedule into the broker and delivers it to the matching subscriber only', async () => {
    await waitUntil('the ticker to receive its tick', () => received.has('fixture-ticker'));
    // Deliveries are stored with the event, one per matching Trigger, and deleted once acknowledged:
    // none left means no other subscriber had one.
    await waitUntil('no delivery left', async () => (await tdb.database.query<{ n: string }>(sql`select count(*) as n from eventing.deliveries`))[0]?.n === '0');
    assert.equal(received.get('fixture-elsewhere'), undefined, 'its filter names another source');
    assert.equal(received.get('fixture-creations'), undefined, 'it subscribes to another type');
    const [event, ...more] = received.get('fixture-ticker')!;
    assert.equal(more.length, 0, 'one tick, delivered once');
    assert.equal(event!.type, ARCHIVED);
    assert.equal(event!.source, '/apis/v1/namespaces/default/pingsources/fixture-ticker-tick');
    assert.deepEqual(event!.data, { noteId: 'tick-1' });
  });
});
