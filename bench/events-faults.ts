// Events under faults: 2,000-event bursts on real PostgreSQL through the whole path (outbox →
// relay → broker → dispatcher → consumer), with both claim lanes of the relay and of the
// dispatcher working under a small in-flight cap, and a consumer that fails the first attempt
// of every fourth event (each is retried through the dispatcher's claim loop). Counts what the
// path must never do: lose an event, apply one twice, dead-letter a retried one, or fail a claim
// cycle (a negative LIMIT was the one seen before).
// Run alone: node --conditions=development --import tsx bench/events-faults.ts
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import type { Database } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import type { EventPublisher } from '#shared/events/publisher';
import { createLogger } from '#shared/log/index';
import { createTestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import { startFixtureStack } from '#tests/e2e/events-stack';

const BURST = Number(process.env.BENCH_EVENTS ?? 2000);
const BURSTS = Number(process.env.BENCH_BURSTS ?? 3);
const WRITERS = 16;
/** Small enough that the two lanes of each loop compete for it all the time. */
const CONCURRENCY = 8;

const errors: string[] = [];
const log = createLogger({ level: 'error', sink: (line) => errors.push(line) });

async function burst(database: Database, publisher: EventPublisher, n: number): Promise<string[]> {
  const ids: string[] = [];
  let left = n;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (left-- > 0) {
        const noteId = randomUUID();
        // Every fourth event fails its first delivery: a retry through the claim loop.
        const text = ids.length % 4 === 0 ? 'fail-times:1' : 'burst';
        ids.push(
          await database.transaction(async (tx) => {
            await tx.execute(sql`insert into fixture.notes (id, text) values (${noteId}, ${text})`);
            return publisher.emit(tx, { type: 'io.zenokube.fixture.note.created', data: { noteId, text } });
          }),
        );
      }
    }),
  );
  return ids;
}

async function main(): Promise<void> {
  const tdb = await createTestDatabase({ max: 24 });
  let stack: RunningStack | undefined;
  try {
    stack = await startFixtureStack(
      tdb.database,
      { relay: { idleMs: 200, backoffMs: 50, concurrency: CONCURRENCY, lanes: 2 }, dispatcher: { idleMs: 200, concurrency: CONCURRENCY, lanes: 2 } },
      {},
      log,
    );
    const relay = stack.relays.get('fixture')!;
    const publisher = createEventPublisher({ product: 'fixture', source: '/fixture/producer', wake: () => relay.hint() });
    const q = async (query: ReturnType<typeof sql>) => Number((await tdb.database.query<{ n: string }>(query))[0]!.n);
    let all: string[] = [];
    for (let b = 1; b <= BURSTS; b++) {
      const started = performance.now();
      const ids = await burst(tdb.database, publisher, BURST);
      all = all.concat(ids);
      await waitFor(
        'every event handled',
        async () => ((await q(sql`select count(distinct event_id) as n from fixture.receipts`)) >= all.length ? true : undefined),
        6_000,
        20,
      );
      const seconds = (performance.now() - started) / 1000;
      await waitFor('the outbox and the deliveries to drain', async () =>
        (await q(sql`select (select count(*) from fixture.outbox) + (select count(*) from eventing.deliveries) as n`)) === 0 ? true : undefined,
      );
      console.log(`burst ${b}: ${BURST} events handled in ${seconds.toFixed(1)} s (${Math.round(BURST / seconds)} events/s)`);
    }
    const receipts = await q(sql`select count(*) as n from fixture.receipts`);
    const distinct = await q(sql`select count(distinct event_id) as n from fixture.receipts where event_id = any(${`{${all.join(',')}}`}::text[])`);
    const dead = await q(sql`select count(*) as n from eventing.dead_letters`);
    const negative = errors.filter((e) => e.includes('LIMIT must not be negative')).length;
    const cycles = errors.filter((e) => e.includes('cycle failed')).length;
    console.log(
      `events under faults: ${all.length} events in ${BURSTS} bursts of ${BURST}: ${all.length - distinct} lost, ${receipts - distinct} applied twice, ${dead} dead-lettered, ` +
        `${negative} negative-LIMIT errors, ${cycles} failed claim cycles, ${errors.length} error lines ` +
        `(postgres, ${WRITERS} writers, in-flight cap ${CONCURRENCY}, 2 lanes each for relay and dispatcher, 1 in 4 events failing its first delivery)`,
    );
    const byMessage = new Map<string, number>();
    for (const e of errors) {
      const msg = String((JSON.parse(e) as { msg?: unknown }).msg);
      byMessage.set(msg, (byMessage.get(msg) ?? 0) + 1);
    }
    console.log(`error lines by message: ${JSON.stringify(Object.fromEntries(byMessage))} (the fixture's "event handler failed" is the injected fault)`);
  } finally {
    await stack?.stop();
    await tdb.drop();
  }
}

await main();
