// End to end over real HTTP and PostgreSQL: producer commits a note and its event, the relay
// delivers it to the local Broker, the Trigger routes it to the consumer, whose effect commits once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { attemptTimes, attemptsSeen } from '#tests/fixtures/functions/fixture/consumer/app';
import { count, postNote, startFixtureStack, waitFor } from './events-stack.js';

// Each scenario runs twice: every hop over loopback HTTP (as in a cluster, where the relay posts
// to the Broker and the Broker to the Knative Service), and with the local runner's in-process hand-offs.
for (const mode of [{ name: 'over HTTP', inProcess: false }, { name: 'in process', inProcess: true }] as const) {
  describe(`events ${mode.name}: producer → outbox relay → local Broker → Trigger → consumer`, () => {
    let tdb: TestDatabase;
    let stack: RunningStack;
    let base: string;

    before(async () => {
      tdb = await createTestDatabase();
      stack = await startFixtureStack(tdb.database, { inProcess: mode.inProcess });
      base = stack.localUrl;
    });
    after(async () => {
      await stack?.stop();
      await tdb?.drop();
    });

    const receipts = (eventId: string) => count(tdb.database, sql`select count(*) as n from fixture.receipts where event_id = ${eventId}`);

    it('delivers a committed change to the subscriber, whose effect commits once', async () => {
      const note = await postNote(base, { text: 'hello' });
      await waitFor('the receipt', async () => ((await receipts(note.eventId)) === 1 ? true : undefined));
      await waitFor('the outbox to empty', async () =>
        (await count(tdb.database, sql`select count(*) as n from fixture.outbox`)) === 0 ? true : undefined,
      );
      await waitFor('the broker deliveries to settle', async () =>
        (await count(tdb.database, sql`select count(*) as n from eventing.deliveries`)) === 0 ? true : undefined,
      );
      assert.equal(await receipts(note.eventId), 1);
      assert.equal(attemptsSeen.get(note.eventId), 1);
      const [row] = await tdb.database.query<{ note_id: string }>(sql`select note_id from fixture.receipts where event_id = ${note.eventId}`);
      assert.equal(row?.note_id, note.id);
    });

    it('retries a subscriber that fails twice with backoff and records one effect', async () => {
      const note = await postNote(base, { text: 'fail-times:2' });
      await waitFor('the receipt', async () => ((await receipts(note.eventId)) === 1 ? true : undefined));
      assert.equal(attemptsSeen.get(note.eventId), 3);
      // Exponential backoff from PT0.02S: retry n waits 20 ms × 2^n (40 ms, then 80 ms).
      const [t1, t2, t3] = attemptTimes.get(note.eventId)!;
      assert.ok(t2! - t1! >= 36, `first retry after ${t2! - t1!} ms`);
      assert.ok(t3! - t2! >= 72, `second retry after ${t3! - t2!} ms`);
      assert.equal(await count(tdb.database, sql`select count(*) as n from eventing.dead_letters`), 0);
    });

    it('dead-letters an event whose subscriber always fails, after the configured retries', async () => {
      const note = await postNote(base, { text: 'fail-always' });
      const dead = await waitFor('the dead letter', async () => {
        const rows = await tdb.database.query<{ attempts: number; last_status: number; trigger: string }>(sql`
          select d.attempts, d.last_status, d.trigger from eventing.dead_letters d join eventing.events e on e.seq = d.event_seq
          where e.id = ${note.eventId}`);
        return rows[0];
      });
      // retry: 3 in the declaration → one attempt plus three retries.
      assert.equal(dead.attempts, 4);
      assert.equal(attemptsSeen.get(note.eventId), 4);
      assert.equal(dead.last_status, 500);
      assert.equal(dead.trigger, 'fixture-consumer:io.zenokube.fixture.note.created:0');
      assert.equal(await receipts(note.eventId), 0);
      assert.equal(await count(tdb.database, sql`select count(*) as n from eventing.deliveries`), 0);
    });

    it('rolls back a handler that fails after writing, and keeps nothing of the attempt', async () => {
      const note = await postNote(base, { text: 'fail-after-write' });
      await waitFor('the dead letter', async () =>
        (await count(tdb.database, sql`select count(*) as n from eventing.dead_letters d join eventing.events e on e.seq = d.event_seq where e.id = ${note.eventId}`)) === 1 ? true : undefined,
      );
      assert.equal(await receipts(note.eventId), 0);
      assert.equal(await count(tdb.database, sql`select count(*) as n from fixture.inbox where id = ${note.eventId}`), 0);
    });

    it('does not deliver events that match no Trigger filter', async () => {
      const before = await count(tdb.database, sql`select count(*) as n from fixture.receipts`);
      const res = await fetch(`${base}/fixture/notes/n-1/archive`, { method: 'POST' });
      assert.equal(res.status, 202);
      const { eventId } = (await res.json()) as { eventId: string };
      const stored = await waitFor('the broker to accept the event', async () => {
        const rows = await tdb.database.query<{ seq: string }>(sql`select seq from eventing.events where id = ${eventId}`);
        return rows[0];
      });
      assert.equal(await count(tdb.database, sql`select count(*) as n from eventing.deliveries where event_seq = ${stored.seq}`), 0);
      assert.equal(await count(tdb.database, sql`select count(*) as n from fixture.receipts`), before);
      assert.equal(attemptsSeen.has(eventId), false);
    });

    it('answers 202 with no second effect when the broker delivers the same event twice', async () => {
      const note = await postNote(base, { text: 'twice' });
      await waitFor('the receipt', async () => ((await receipts(note.eventId)) === 1 ? true : undefined));
      // Redeliver the stored event straight to the subscriber, as a broker retry after a lost ack would.
      const [ev] = await tdb.database.query<{ attributes: Record<string, string>; data: Uint8Array }>(
        sql`select attributes, data from eventing.events where id = ${note.eventId}`,
      );
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const [k, v] of Object.entries(ev!.attributes)) if (k !== 'datacontenttype') headers[`ce-${k}`] = v;
      const res = await fetch(`${base}/_fn/fixture-consumer/_events`, { method: 'POST', headers, body: Buffer.from(ev!.data) });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('zeno-event-status'), 'duplicate');
      assert.equal(await receipts(note.eventId), 1);
    });

    it('delivers events concurrently written by many producers, each exactly once', async () => {
      const notes = await Promise.all(Array.from({ length: 40 }, (_, i) => postNote(base, { text: `bulk ${i}` })));
      const ids = notes.map((n) => n.eventId);
      await waitFor('every receipt', async () =>
        (await count(tdb.database, sql`select count(*) as n from fixture.receipts where event_id = any(${`{${ids.join(',')}}`}::text[])`)) === ids.length ? true : undefined,
      );
      for (const id of ids) assert.equal(attemptsSeen.get(id), 1);
    });
  });
}
