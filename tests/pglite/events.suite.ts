// The event path on PGlite (what `npm start` uses with no DATABASE_URL): one connection,
// in-process wake-ups. Outbox → relay → broker → Trigger → consumer must neither deadlock nor
// lose or duplicate an event.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import type { Database } from '#shared/db/index';
import { attemptsSeen } from '#tests/fixtures/functions/fixture/consumer/app';
import { count, postNote, startFixtureStack, waitFor } from '#tests/e2e/events-stack';

export function eventsSuite(db: () => Database): void {
  describe('events on PGlite', () => {
    let stack: RunningStack;
    before(async () => {
      stack = await startFixtureStack(db());
    });
    after(async () => {
      await stack?.stop();
    });

    const receipts = (id: string) => count(db(), sql`select count(*) as n from fixture.receipts where event_id = ${id}`);

    it('wakes the relay and delivers a committed event once', async () => {
      const note = await postNote(stack.localUrl, { text: 'pglite' });
      await waitFor('the receipt', async () => ((await receipts(note.eventId)) === 1 ? true : undefined));
      await waitFor('the outbox and deliveries to empty', async () =>
        (await count(db(), sql`select (select count(*) from fixture.outbox) + (select count(*) from eventing.deliveries) as n`)) === 0 ? true : undefined,
      );
      assert.equal(attemptsSeen.get(note.eventId), 1);
    });

    it('retries a failing subscriber without deadlocking the single connection', async () => {
      const note = await postNote(stack.localUrl, { text: 'fail-times:2' });
      await waitFor('the receipt', async () => ((await receipts(note.eventId)) === 1 ? true : undefined));
      assert.equal(attemptsSeen.get(note.eventId), 3);
    });

    it('delivers a burst of concurrent commits exactly once each', async () => {
      const notes = await Promise.all(Array.from({ length: 25 }, (_, i) => postNote(stack.localUrl, { text: `burst ${i}` })));
      for (const n of notes) await waitFor('each receipt', async () => ((await receipts(n.eventId)) === 1 ? true : undefined));
      for (const n of notes) assert.equal(attemptsSeen.get(n.eventId), 1);
    });

    it('flushes rows written without a notification through the sweep endpoint', async () => {
      await db().query(sql`insert into fixture.notes (id, text) values ('quiet', 'quiet')`);
      await db().query(sql`insert into fixture.outbox (id, type, source, data)
        values ('quiet-event', 'io.zenokube.fixture.note.created', '/fixture/producer', '{"noteId":"quiet","text":"quiet"}'::jsonb)`);
      const res = await fetch(`${stack.localUrl}/_fn/fixture-producer/_outbox/flush`, { method: 'POST' });
      assert.equal(res.status, 200);
      await waitFor('the receipt', async () => ((await receipts('quiet-event')) === 1 ? true : undefined));
    });
  });
}
