// The broker's dispatcher on real PostgreSQL against a scripted subscriber: Knative retry rules,
// backoff policies, dead letters (table and deadLetterSink), leases.
// @see https://github.com/knative/specs/blob/main/specs/eventing/data-plane.md#event-acknowledgement-and-delivery-retry
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { silentLogger } from '#shared/log/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor, waitUntil } from '#tests/support/poll';
import { createEventAcceptor } from './accept.js';
import { startDispatcher, type Dispatcher } from './dispatcher.js';
import { triggersFromDeclarations, type Trigger } from './triggers.js';
import { RETRY_DEFAULTS, retryWindowMs } from '#shared/events/backoff';
import { defineFunction } from '#shared/function/define';

interface Hit {
  path: string;
  at: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('startDispatcher', () => {
  let tdb: TestDatabase;
  let server: Server;
  let base: string;
  const hits: Hit[] = [];
  /** Status to answer per path, consumed in order; the last one repeats. */
  const script = new Map<string, number[]>();
  /** Status to answer per path, decided at each request (takes precedence over `script`). */
  const scriptFn = new Map<string, (eventId: string) => number>();
  /** Requests to a path are answered only once its gate resolves (a slow subscriber). */
  const gates = new Map<string, Promise<void>>();
  const running: Dispatcher[] = [];

  before(async () => {
    tdb = await createTestDatabase();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hits.push({ path: req.url!, at: performance.now(), headers: req.headers, body });
        const decide = scriptFn.get(req.url!);
        const plan = script.get(req.url!) ?? [202];
        const status = decide ? decide(String(req.headers['ce-id'])) : plan.length > 1 ? plan.shift()! : plan[0]!;
        void (gates.get(req.url!) ?? Promise.resolve()).then(() => res.writeHead(status).end());
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  beforeEach(() => {
    hits.length = 0;
    script.clear();
  });
  after(async () => {
    for (const d of running) await d.stop();
    server.closeAllConnections();
    server.close();
    await tdb?.drop();
  });

  const trigger = (name: string, over: Partial<Trigger> = {}): Trigger => ({
    name,
    broker: 'default/default',
    filters: { type: `io.zenokube.test.${name}.happened` },
    subscriber: `${base}/${name}`,
    retry: 2,
    backoffPolicy: 'exponential',
    backoffDelayMs: 10,
    deadLetter: true,
    deadLetterSink: undefined,
    ...over,
  });

  async function run(t: Trigger, status: number[]) {
    script.set(`/${t.name}`, status);
    const accept = createEventAcceptor(tdb.database, [t]);
    const dispatcher = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 200 });
    running.push(dispatcher);
    const id = randomUUID();
    await accept('default/default', { specversion: '1.0', id, source: '/test', type: t.filters.type!, datacontenttype: 'application/json' }, new TextEncoder().encode('{"n":1}'));
    return { id, dispatcher };
  }
  // Polls until the event has no delivery left; the bound only turns a hang into a failure (a
  // loaded machine may take seconds over a retry's backoff), it asserts no speed.
  const settled = async (id: string) => {
    for (let i = 0; i < 6000; i++) {
      const [r] = await tdb.database.query<{ n: string }>(sql`select count(*) as n from eventing.deliveries d join eventing.events e on e.seq = d.event_seq where e.id = ${id}`);
      if (Number(r!.n) === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail('deliveries did not settle');
  };
  const deadLetters = (id: string) =>
    tdb.database.query<{ attempts: number; last_status: number | null; forwarded_at: unknown; sink: string | null }>(
      sql`select d.attempts, d.last_status, d.forwarded_at, d.sink from eventing.dead_letters d join eventing.events e on e.seq = d.event_seq where e.id = ${id}`,
    );

  it('retries 404, 409, 429 and 5xx, then succeeds', async () => {
    const t = trigger('retriable', { retry: 5 });
    const { id, dispatcher } = await run(t, [404, 409, 429, 503, 202]);
    await settled(id);
    assert.equal(hits.filter((h) => h.path === '/retriable').length, 5);
    assert.equal((await deadLetters(id)).length, 0);
    await dispatcher.stop();
  });

  it('dead-letters a 400 at once, without retrying', async () => {
    const t = trigger('unparsable');
    const { id, dispatcher } = await run(t, [400]);
    await settled(id);
    assert.equal(hits.filter((h) => h.path === '/unparsable').length, 1);
    const [dead] = await deadLetters(id);
    assert.equal(dead?.attempts, 1);
    assert.equal(dead?.last_status, 400);
    await dispatcher.stop();
  });

  it('waits backoffDelay × retry between attempts with the linear policy', async () => {
    const t = trigger('linear', { retry: 2, backoffPolicy: 'linear', backoffDelayMs: 60 });
    const { id, dispatcher } = await run(t, [500]);
    await settled(id);
    const at = hits.filter((h) => h.path === '/linear').map((h) => h.at);
    assert.equal(at.length, 3);
    assert.ok(at[1]! - at[0]! >= 55, `first retry after ${at[1]! - at[0]!} ms`);
    assert.ok(at[2]! - at[1]! >= 110, `second retry after ${at[2]! - at[1]!} ms`);
    await dispatcher.stop();
  });

  it('forwards an exhausted event to the deadLetterSink with the Knative error extensions', async () => {
    const t = trigger('doomed', { retry: 1, deadLetterSink: `${base}/dls` });
    const { id, dispatcher } = await run(t, [503]);
    await settled(id);
    for (let i = 0; i < 200 && !hits.some((h) => h.path === '/dls'); i++) await new Promise((r) => setTimeout(r, 10));
    const dls = hits.find((h) => h.path === '/dls');
    assert.ok(dls, 'the dead-letter sink received the event');
    assert.equal(dls.headers['ce-id'], id);
    assert.equal(dls.headers['ce-knativeerrorcode'], '503');
    assert.equal(dls.headers['ce-knativeerrordest'], `${base}/doomed`);
    assert.equal(dls.body, '{"n":1}');
    for (let i = 0; i < 200 && !(await deadLetters(id))[0]?.forwarded_at; i++) await new Promise((r) => setTimeout(r, 10));
    const [dead] = await deadLetters(id);
    assert.equal(dead?.attempts, 2);
    assert.ok(dead?.forwarded_at);
    await dispatcher.stop();
  });

  it('drops an exhausted event when the Trigger keeps no dead letters', async () => {
    const t = trigger('dropped', { retry: 0, deadLetter: false });
    const { id, dispatcher } = await run(t, [500]);
    await settled(id);
    assert.equal((await deadLetters(id)).length, 0);
    await dispatcher.stop();
  });

  it('sends the deliveries handed over by the acceptor at once, with the same retry rules', async () => {
    const t = trigger('handed', { retry: 2 });
    script.set('/handed', [503, 202]);
    const dispatcher = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 60_000 });
    running.push(dispatcher);
    const accept = createEventAcceptor(tdb.database, [t], { onStored: () => dispatcher.wake(), handoff: dispatcher.handoff });
    const id = randomUUID();
    await accept('default/default', { specversion: '1.0', id, source: '/test', type: t.filters.type!, datacontenttype: 'application/json' }, new TextEncoder().encode('{"n":2}'));
    await settled(id);
    const got = hits.filter((h) => h.path === '/handed');
    assert.equal(got.length, 2);
    assert.equal(got[1]!.headers['ce-id'], id);
    assert.equal(got[1]!.body, '{"n":2}');
    await dispatcher.stop();
  });

  it('redelivers a handed delivery that was never sent once its lease expires (a crash after the commit)', async () => {
    const t = trigger('lost-handoff');
    const accept = createEventAcceptor(tdb.database, [t], { handoff: { leaseMs: 300, reserve: (n) => ({ size: n, deliver: () => {} }) } });
    const id = randomUUID();
    await accept('default/default', { specversion: '1.0', id, source: '/test', type: t.filters.type! }, undefined);
    const dispatcher = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 100 });
    running.push(dispatcher);
    assert.equal(hits.filter((h) => h.path === '/lost-handoff').length, 0);
    await settled(id);
    assert.equal(hits.filter((h) => h.path === '/lost-handoff').length, 1);
    await dispatcher.stop();
  });

  it('redelivers a delivery whose claim expired (a dispatcher that died mid-delivery)', async () => {
    const t = trigger('orphan');
    const accept = createEventAcceptor(tdb.database, [t]);
    const id = randomUUID();
    await accept('default/default', { specversion: '1.0', id, source: '/test', type: t.filters.type! }, undefined);
    await tdb.database.query(sql`update eventing.deliveries set attempts = 1, next_attempt_at = now() + interval '300 milliseconds'`);
    const dispatcher = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 100 });
    running.push(dispatcher);
    assert.equal(hits.filter((h) => h.path === '/orphan').length, 0);
    await settled(id);
    assert.equal(hits.filter((h) => h.path === '/orphan').length, 1);
    await dispatcher.stop();
  });

  it('renews the lease of a delivery still in flight: a second dispatcher does not send it meanwhile', async () => {
    const t = trigger('slow');
    let open!: () => void;
    gates.set('/slow', new Promise<void>((r) => (open = r)));
    const leaseMs = 1_500;
    const accept = createEventAcceptor(tdb.database, [t]);
    const id = randomUUID();
    await accept('default/default', { specversion: '1.0', id, source: '/test', type: t.filters.type! }, undefined);
    const a = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 60_000, leaseMs });
    running.push(a);
    await waitUntil('the first attempt', () => hits.some((h) => h.path === '/slow'));
    const b = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 50, leaseMs });
    running.push(b);
    const due = async () => (await tdb.database.query<{ due: string }>(sql`select next_attempt_at::text as due from eventing.deliveries where trigger = 'slow'`))[0]!.due;
    try {
      let last = await due();
      for (let renewals = 0; renewals < 3; renewals++) {
        last = await waitFor('the lease to be renewed', async () => {
          const now = await due();
          return now > last ? now : undefined;
        });
      }
      await b.flush();
    } finally {
      open();
    }
    await settled(id);
    await Promise.all([a.stop(), b.stop()]);
    assert.equal(hits.filter((h) => h.path === '/slow').length, 1);
    assert.equal((await deadLetters(id)).length, 0);
    gates.delete('/slow');
  });

  describe('a 30-second consumer outage', () => {
    const OUTAGE_MS = 30_000;
    // The consumer is down for the first 30 s of each event's schedule: attempt k arrives
    // retryWindowMs(k - 1) after the first (plus delivery time, which only helps), so it answers
    // 503 to every attempt scheduled inside the outage. The dispatcher runs the schedule with its
    // delays divided by SPEEDUP, so the test takes well under a second of waiting; the attempt
    // count and the dead-letter decision are the dispatcher's own.
    const SPEEDUP = 1_000;

    async function outage(name: string, schedule: Pick<Trigger, 'retry' | 'backoffPolicy' | 'backoffDelayMs'>, n: number) {
      const t = trigger(name, { retry: schedule.retry, backoffPolicy: schedule.backoffPolicy, backoffDelayMs: schedule.backoffDelayMs / SPEEDUP });
      const attempts = new Map<string, number>();
      scriptFn.set(`/${name}`, (id) => {
        const k = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, k);
        return retryWindowMs(schedule.backoffPolicy, schedule.backoffDelayMs, k - 1) < OUTAGE_MS ? 503 : 202;
      });
      const accept = createEventAcceptor(tdb.database, [t]);
      const dispatcher = await startDispatcher({ database: tdb.database, triggers: [t], log: silentLogger, idleMs: 50 });
      running.push(dispatcher);
      const ids = Array.from({ length: n }, () => randomUUID());
      await Promise.all(ids.map((id) => accept('default/default', { specversion: '1.0', id, source: '/test', type: t.filters.type! }, undefined)));
      for (const id of ids) await settled(id);
      await dispatcher.stop();
      let dead = 0;
      for (const id of ids) dead += (await deadLetters(id)).length;
      return { dead, attempts: [...attempts.values()] };
    }

    it('the default schedule rides it out: nothing is dead-lettered', async () => {
      // The schedule a subscription gets when it declares none, as the local broker builds it.
      const consumer = defineFunction({
        name: 'test-outage-consumer',
        product: 'test',
        description: 'a consumer that declares no delivery schedule',
        routes: [],
        scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
        subscribes: [{ type: 'io.zenokube.test.outage.happened' }],
        load: async () => ({ createApp: () => { throw new Error('unused'); } }),
      });
      const [t] = triggersFromDeclarations([consumer], { subscriberBase: base });
      assert.equal(t!.retry, RETRY_DEFAULTS.retry);
      assert.ok(retryWindowMs(t!.backoffPolicy, t!.backoffDelayMs, t!.retry) >= 5 * 60_000, 'the default retries span minutes');
      const result = await outage('outage-default', t!, 20);
      assert.equal(result.dead, 0, 'no event dead-lettered');
      // 0, 1, 3, 7, 15 s fail; the sixth attempt, 31 s after the first, is taken.
      assert.deepEqual(result.attempts, Array(20).fill(6));
    });

    it('the former schedule (5 retries from 0.2 s, 12.4 s in all) dead-letters every event', async () => {
      const result = await outage('outage-former', { retry: 5, backoffPolicy: 'exponential', backoffDelayMs: 200 }, 20);
      assert.equal(result.dead, 20);
      assert.deepEqual(result.attempts, Array(20).fill(6));
    });
  });
});
