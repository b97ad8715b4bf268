// The outbox sweep on one machine: a row no relay was told about (written by a pod that went
// away, say) is delivered by the local cluster's sweep timer, as the sweep PingSource delivers it
// in a cluster, not only when a function starts. The relay's own fallback poll is set to an hour
// and the row is written without NOTIFY, due 2 s later than the relay's sweep at start (which
// the test also waits out), so nothing but the sweep timer can deliver it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { count, startFixtureStack, waitFor } from './events-stack.js';

describe('outbox sweep (local cluster timer)', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;

  before(async () => {
    tdb = await createTestDatabase();
    stack = await startFixtureStack(tdb.database, { relay: { idleMs: 3_600_000, backoffMs: 50, leaseMs: 2_000 }, sweepMs: 100 });
  });
  after(async () => {
    await stack?.stop();
    await tdb?.drop();
  });

  it('delivers an outbox row written without waking any relay', async () => {
    await stack.relays.get('fixture')!.flush();
    const id = randomUUID();
    await tdb.database.query(sql`
      insert into fixture.outbox (id, type, source, data, next_attempt_at)
      values (${id}, 'io.zenokube.fixture.note.created', '/fixture/producer', ${JSON.stringify({ noteId: 'swept-1', text: 'left behind' })}::jsonb,
              now() + interval '2 seconds')`);
    await waitFor('the receipt of the swept event', async () =>
      (await count(tdb.database, sql`select count(*) as n from fixture.receipts where event_id = ${id}`)) === 1 ? true : undefined,
    );
    assert.equal(await count(tdb.database, sql`select count(*) as n from fixture.outbox where id = ${id}`), 0);
  });
});
