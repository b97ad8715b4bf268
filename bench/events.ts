// Events benchmark: commit → outbox → relay → local Broker → Trigger → consumer handler, on real
// PostgreSQL (a throwaway database), in one process as `npm start` runs it: the relay hands events
// to the broker's acceptor and the dispatcher hands deliveries to the consumer's platform-wrapped
// app, both in process (no loopback HTTP hop).
// Prints throughput at saturation and commit-to-handler latency at a fixed offered load.
// Run alone: node --conditions=development --import tsx bench/events.ts
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import type { Database } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import type { EventPublisher } from '#shared/events/publisher';
import { createTestDatabase } from '#tests/support/database';
import { consumerProbe } from '#tests/fixtures/functions/fixture/consumer/app';
import { startFixtureStack } from '#tests/e2e/events-stack';

const SATURATION_EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const WRITERS = 16;
const OFFERED_RATE = 1000;
const OFFERED_SECONDS = 3;

const committedAt = new Map<string, number>();
const handledAt = new Map<string, number>();
let waiters: { n: number; resolve: () => void }[] = [];

consumerProbe.on('handled', ({ eventId, at }: { eventId: string; at: number }) => {
  if (!handledAt.has(eventId)) handledAt.set(eventId, at);
  waiters = waiters.filter((w) => (handledAt.size >= w.n ? (w.resolve(), false) : true));
});

const handledCount = (n: number) =>
  new Promise<void>((resolve, reject) => {
    if (handledAt.size >= n) return resolve();
    waiters.push({ n, resolve });
    setTimeout(() => reject(new Error(`only ${handledAt.size} of ${n} events handled in time`)), 120_000).unref();
  });

/** One producer transaction: a state change and its event, committed together. */
let publisher: EventPublisher;

/** Durations of producer transactions (the baseline's commit latency). */
const txMs: number[] = [];

async function produce(database: Database): Promise<void> {
  const noteId = randomUUID();
  const t0 = performance.now();
  const id = await database.transaction(async (tx) => {
    await tx.execute(sql`insert into fixture.notes (id, text) values (${noteId}, 'bench')`);
    return publisher.emit(tx, { type: 'io.zenokube.fixture.note.created', data: { noteId, text: 'bench' } });
  });
  const now = performance.now();
  committedAt.set(id, now);
  txMs.push(now - t0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function latencies(ids: Iterable<string>): number[] {
  const out: number[] = [];
  for (const id of ids) out.push(handledAt.get(id)! - committedAt.get(id)!);
  return out.sort((a, b) => a - b);
}

async function saturate(database: Database, n: number): Promise<{ rate: number; ids: string[] }> {
  const before = new Set(committedAt.keys());
  const target = handledAt.size + n;
  const started = performance.now();
  let left = n;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (left-- > 0) await produce(database);
    }),
  );
  await handledCount(target);
  const seconds = (performance.now() - started) / 1000;
  return { rate: n / seconds, ids: [...committedAt.keys()].filter((id) => !before.has(id)) };
}

async function offered(database: Database, rate: number, seconds: number): Promise<string[]> {
  const before = new Set(committedAt.keys());
  const target = handledAt.size + Math.floor(rate * seconds);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  // Paced in 10 ms ticks: each tick starts the transactions due by then.
  for (let sent = 0; sent < rate * seconds; ) {
    const due = Math.min(rate * seconds, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < due; sent++) pending.push(produce(database));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(pending);
  await handledCount(target);
  return [...committedAt.keys()].filter((id) => !before.has(id));
}

/** One event at a time: the path's own delay, with no queue in front of any stage. */
async function oneAtATime(database: Database, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = handledAt.size;
    const ids = new Set(committedAt.keys());
    await produce(database);
    await handledCount(before + 1);
    const id = [...committedAt.keys()].find((x) => !ids.has(x))!;
    out.push(handledAt.get(id)! - committedAt.get(id)!);
  }
  return out.sort((a, b) => a - b);
}

/** The producer's transaction alone (no relay, broker or consumer running): the ceiling here. */
async function producerBaseline(database: Database, n: number): Promise<{ rate: number; medianTxMs: number }> {
  publisher = createEventPublisher({ product: 'fixture', source: '/fixture/producer', wake: () => {} });
  txMs.length = 0;
  const started = performance.now();
  let left = n;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (left-- > 0) await produce(database);
    }),
  );
  const rate = n / ((performance.now() - started) / 1000);
  const medianTxMs = percentile(txMs.sort((a, b) => a - b), 50);
  await database.query(sql`delete from fixture.outbox`);
  committedAt.clear();
  return { rate, medianTxMs };
}

/**
 * CPU time (ms) the server spent in this database's backends, read from /proc: the server runs
 * on this machine in the benchmark, and its share of the two cores bounds the throughput as
 * much as this process's. Undefined when /proc does not show the backends.
 */
async function serverCpuMs(database: Database): Promise<number | undefined> {
  const rows = await database.query<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`);
  let ticks = 0;
  try {
    for (const { pid } of rows) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  } catch {
    return undefined;
  }
  // /proc counts in clock ticks, 100 a second on Linux.
  return (ticks * 1000) / 100;
}

async function main(): Promise<void> {
  const tdb = await createTestDatabase({ max: 24 });
  let stack: RunningStack | undefined;
  try {
    await producerBaseline(tdb.database, 300);
    const { rate: baseline, medianTxMs } = await producerBaseline(tdb.database, SATURATION_EVENTS);
    stack = await startFixtureStack(tdb.database, { relay: { idleMs: 5_000 }, dispatcher: { idleMs: 5_000 } });
    // As the runner wires a function's publisher: the relay in this process is woken directly.
    const relay = stack.relays.get('fixture')!;
    publisher = createEventPublisher({ product: 'fixture', source: '/fixture/producer', wake: () => relay.hint() });
    // Warm-up: connections, JIT, prepared statements.
    await saturate(tdb.database, 300);
    const serverBefore = await serverCpuMs(tdb.database);
    const cpuBefore = process.cpuUsage();
    const sat = await saturate(tdb.database, SATURATION_EVENTS);
    const cpu = process.cpuUsage(cpuBefore);
    const serverAfter = await serverCpuMs(tdb.database);
    const serverPerEvent = serverBefore !== undefined && serverAfter !== undefined ? (serverAfter - serverBefore) / SATURATION_EVENTS : undefined;
    const cpuPerEvent = (cpu.user + cpu.system) / 1000 / SATURATION_EVENTS;
    const satLat = latencies(sat.ids);
    // Latency is measured below saturation (half of it, at most the 1,000/s target), so that
    // it shows the path's delay and not the queue of an overloaded run.
    const rate = Math.max(50, Math.min(OFFERED_RATE, Math.round(sat.rate / 2 / 10) * 10));
    // Event-loop delay during the latency run: on a shared machine it shows how much of the
    // latency is this process waiting for a CPU rather than the path itself.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const ids = await offered(tdb.database, rate, OFFERED_SECONDS);
    loop.disable();
    const lat = latencies(ids);
    const single = await oneAtATime(tdb.database, 50);
    const f = (x: number) => (x < 10 ? x.toFixed(1) : Math.round(x).toString());
    console.log(
      `events: ${Math.round(sat.rate)} events/s end to end at saturation, median ${f(percentile(satLat, 50))} ms, p99 ${f(percentile(satLat, 99))} ms ` +
        `(${(sat.rate / baseline).toFixed(2)}x the ${Math.round(baseline)} commits/s of the producer transaction alone; ${f(cpuPerEvent)} ms CPU/event here${serverPerEvent === undefined ? '' : ` + ${f(serverPerEvent)} ms in its backends`}; postgres, ${SATURATION_EVENTS} events, ${WRITERS} writers)`,
    );
    console.log(`events latency, one event at a time: median ${f(percentile(single, 50))} ms, p99 ${f(percentile(single, 99))} ms commit-to-handler (postgres, ${single.length} events)`);
    console.log(`events latency: median ${f(percentile(lat, 50))} ms, p99 ${f(percentile(lat, 99))} ms commit-to-handler at ${rate} events/s offered (postgres, ${lat.length} events; event-loop delay p50 ${f(loop.percentile(50) / 1e6)} ms, p99 ${f(loop.percentile(99) / 1e6)} ms; a producer transaction alone took median ${f(medianTxMs)} ms at ${WRITERS} writers)`);
  } finally {
    await stack?.stop();
    await tdb.drop();
  }
}

await main();
