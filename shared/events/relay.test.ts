// The outbox relay against real PostgreSQL and a recording HTTP sink.
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createLogger, silentLogger } from '#shared/log/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import { createEventPublisher } from './outbox.js';
import { startOutboxRelay, type OutboxRelay } from './relay.js';
import type { WireEvent } from './cloudevent.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A sink answering with `status()`; `hold` keeps requests open until released. */
async function startSink() {
  const received: Received[] = [];
  const state = { status: 202, hold: false, held: [] as (() => void)[] };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const answer = () => res.writeHead(state.status).end();
      if (state.hold) state.held.push(answer);
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/sink`;
  return {
    url,
    received,
    state,
    close: () => {
      for (const h of state.held) h();
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('startOutboxRelay', () => {
  let tdb: TestDatabase;
  let sink: Awaited<ReturnType<typeof startSink>>;
  const relays: OutboxRelay[] = [];
  const publisher = createEventPublisher({ product: 'fixture', source: '/fixture/producer' });

  before(async () => {
    tdb = await createTestDatabase();
  });
  beforeEach(async () => {
    await tdb.database.query(sql`delete from fixture.outbox`);
    sink?.close();
    sink = await startSink();
  });
  afterEach(async () => {
    // A relay left running by a failed test would drain the next test's rows.
    for (const r of relays.splice(0)) await r.stop();
  });
  after(async () => {
    sink?.close();
    await tdb?.drop();
  });

  const start = async (opts: Partial<Parameters<typeof startOutboxRelay>[0]> = {}) => {
    const relay = await startOutboxRelay({ database: tdb.database, product: 'fixture', sink: sink.url, log: silentLogger, backoffMs: 20, ...opts });
    relays.push(relay);
    return relay;
  };
  const emit = (data: Record<string, unknown>, subject?: string) =>
    tdb.database.transaction((tx) => publisher.emit(tx, { type: 'io.zenokube.fixture.note.created', data, subject }));
  const outboxCount = async () => Number((await tdb.database.query<{ n: string }>(sql`select count(*) as n from fixture.outbox`))[0]!.n);
  const until = async (cond: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 500 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(await cond(), 'condition not reached');
  };

  it('delivers a committed event in binary mode on NOTIFY and deletes it once acknowledged', async () => {
    const relay = await start({ idleMs: 60_000 });
    const id = await emit({ noteId: 'n1', text: 'héllo' }, 'n1');
    await until(() => sink.received.length === 1);
    const [got] = sink.received;
    assert.equal(got!.headers['ce-id'], id);
    assert.equal(got!.headers['ce-type'], 'io.zenokube.fixture.note.created');
    assert.equal(got!.headers['ce-source'], '/fixture/producer');
    assert.equal(got!.headers['ce-specversion'], '1.0');
    assert.equal(got!.headers['ce-subject'], 'n1');
    assert.match(String(got!.headers['ce-time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(got!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(got!.body), { noteId: 'n1', text: 'héllo' });
    await until(async () => (await outboxCount()) === 0);
    await relay.stop();
  });

  it('does not deliver an event whose transaction rolled back', async () => {
    const relay = await start({ idleMs: 60_000 });
    await assert.rejects(
      tdb.database.transaction(async (tx) => {
        await publisher.emit(tx, { type: 'io.zenokube.fixture.note.created', data: { noteId: 'x', text: 'x' } });
        throw new Error('abort');
      }),
    );
    assert.equal(await relay.flush(), 0);
    assert.equal(sink.received.length, 0);
    await relay.stop();
  });

  it('flush delivers rows that arrived without a notification and returns how many', async () => {
    const relay = await start({ idleMs: 60_000 });
    assert.equal(await relay.flush(), 0, 'the start-up sweep found nothing');
    for (let i = 0; i < 3; i++) {
      await tdb.database.query(sql`insert into fixture.outbox (id, type, source, data) values (${randomUUID()}, 'io.zenokube.fixture.note.created', '/fixture/producer', '{"noteId":"q","text":"q"}'::jsonb)`);
    }
    assert.equal(await relay.flush(), 3);
    assert.equal(sink.received.length, 3);
    assert.equal(await outboxCount(), 0);
    await relay.stop();
  });

  it('keeps a refused event with its error and a backoff, and delivers it when the sink recovers', async () => {
    sink.state.status = 503;
    const relay = await start({ idleMs: 60_000, backoffMs: 40 });
    const id = await emit({ noteId: 'r', text: 'r' });
    await until(() => sink.received.length >= 1);
    await until(async () => {
      const rows = await tdb.database.query<{ last_error: string | null }>(sql`select last_error from fixture.outbox where id = ${id}`);
      return rows[0]?.last_error != null;
    });
    const [row] = await tdb.database.query<{ attempts: number; last_error: string; due_ms: number }>(
      sql`select attempts, last_error, extract(epoch from next_attempt_at - now()) * 1000 as due_ms from fixture.outbox where id = ${id}`,
    );
    assert.ok(row!.attempts >= 1);
    assert.match(row!.last_error, /HTTP 503/);
    sink.state.status = 202;
    await until(async () => (await outboxCount()) === 0);
    assert.ok(sink.received.length >= 2);
    await relay.stop();
  });

  it('holds no transaction open while a delivery waits on the sink', async () => {
    sink.state.hold = true;
    const relay = await start({ idleMs: 60_000 });
    await emit({ noteId: 'h', text: 'h' });
    await until(() => sink.received.length === 1);
    const open = await tdb.database.query<{ n: string }>(sql`
      select count(*) as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`);
    assert.equal(Number(open[0]!.n), 0);
    sink.state.hold = false;
    for (const h of sink.state.held.splice(0)) h();
    await until(async () => (await outboxCount()) === 0);
    await relay.stop();
  });

  it('redelivers an event whose claim expired (a relay that died mid-delivery)', async () => {
    const id = await emit({ noteId: 'l', text: 'l' });
    // What a crashed relay leaves behind: a claim with a lease, then nothing.
    await tdb.database.query(sql`update fixture.outbox set attempts = 1, next_attempt_at = now() + interval '300 milliseconds' where id = ${id}`);
    const relay = await start({ idleMs: 100 });
    assert.equal(sink.received.length, 0);
    await until(() => sink.received.length === 1);
    assert.equal(sink.received[0]!.headers['ce-id'], id);
    await relay.stop();
  });

  it('delivers each event once when two relays drain the same outbox', async () => {
    const a = await start({ idleMs: 60_000, batchSize: 7 });
    const b = await start({ idleMs: 60_000, batchSize: 7 });
    const ids = new Set<string>();
    await Promise.all(Array.from({ length: 60 }, async (_, i) => ids.add(await emit({ noteId: `c${i}`, text: 'c' }))));
    await until(async () => (await outboxCount()) === 0);
    const delivered = sink.received.map((r) => String(r.headers['ce-id']));
    assert.equal(delivered.length, 60);
    assert.deepEqual(new Set(delivered), ids);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('lets in-flight deliveries finish on stop and leaves the rest pending', async () => {
    sink.state.hold = true;
    const relay = await start({ idleMs: 60_000 });
    await emit({ noteId: 's', text: 's' });
    await until(() => sink.received.length === 1);
    const stopped = relay.stop();
    setTimeout(() => {
      sink.state.hold = false;
      for (const h of sink.state.held.splice(0)) h();
    }, 50);
    await stopped;
    assert.equal(await outboxCount(), 0);
    await emit({ noteId: 't', text: 't' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.received.length, 1, 'a stopped relay delivers nothing new');
    assert.equal(await outboxCount(), 1);
  });

  const insertRows = async (n: number) => {
    await tdb.database.query(sql`
      insert into fixture.outbox (id, type, source, data)
      select gen_random_uuid()::text, 'io.zenokube.fixture.note.created', '/fixture/producer', '{"noteId":"b","text":"b"}'::jsonb
      from generate_series(1, ${n})`);
  };

  it('two claim lanes never claim past the in-flight cap nor send a negative LIMIT', async () => {
    const errors: string[] = [];
    const log = createLogger({ level: 'error', sink: (line) => errors.push(line) });
    let running = 0;
    let peak = 0;
    const seen = new Map<string, number>();
    await insertRows(400);
    const relay = await start({
      log,
      lanes: 2,
      concurrency: 5,
      batchSize: 200,
      idleMs: 60_000,
      deliver: async (event: WireEvent) => {
        running++;
        peak = Math.max(peak, running);
        seen.set(event.attributes.id!, (seen.get(event.attributes.id!) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, seen.size % 3));
        running--;
        return { ok: true, status: 202, retryable: false, error: undefined };
      },
    });
    await until(async () => (await outboxCount()) === 0);
    await relay.flush();
    assert.deepEqual(errors, [], 'no cycle failed (a negative LIMIT is an error from PostgreSQL)');
    assert.ok(peak <= 5, `${peak} deliveries in flight with a cap of 5`);
    assert.equal(seen.size, 400);
    assert.ok([...seen.values()].every((n) => n === 1), 'each event delivered once');
    await relay.stop();
  });

  it('renews the lease of a delivery still in flight, so a second relay does not take it meanwhile', async () => {
    await insertRows(1);
    const leaseMs = 1_500;
    const sent: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ok = { ok: true, status: 202, retryable: false, error: undefined } as const;
    const slow = await start({
      leaseMs,
      idleMs: 60_000,
      deliver: async (event: WireEvent) => {
        sent.push(`slow ${event.attributes.id}`);
        await held;
        return ok;
      },
    });
    await until(() => sent.length === 1);
    const other = await start({
      leaseMs,
      idleMs: 50,
      deliver: async (event: WireEvent) => {
        sent.push(`other ${event.attributes.id}`);
        return ok;
      },
    });
    // Several leases pass while the slow delivery is in flight; the heartbeat keeps pushing its lease out.
    const [first] = await tdb.database.query<{ due: string }>(sql`select next_attempt_at::text as due from fixture.outbox`);
    try {
      await waitUntilRenewed(first!.due, 3);
      await other.flush();
    } finally {
      release();
    }
    await until(async () => (await outboxCount()) === 0);
    assert.equal(sent.length, 1, `delivered by: ${sent.join(', ')}`);
    assert.match(sent[0]!, /^slow /);
    const [row] = await tdb.database.query<{ n: string }>(sql`select count(*) as n from fixture.outbox`);
    assert.equal(Number(row!.n), 0);
    await Promise.all([slow.stop(), other.stop()]);
  });

  /** Waits until the row's lease was pushed out `times` times past the value first seen. */
  const waitUntilRenewed = async (from: string, times: number) => {
    let last = from;
    for (let n = 0; n < times; n++) {
      last = await waitFor('the lease to be renewed', async () => {
        const [r] = await tdb.database.query<{ due: string }>(sql`select next_attempt_at::text as due from fixture.outbox`);
        return r && r.due > last ? r.due : undefined;
      });
    }
  };
});
