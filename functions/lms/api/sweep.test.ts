// The scheduled sweep, delivered as the PingSource delivers it (a binary-mode CloudEvent on
// /_events): expired licenses become `expired` with one event each, a missed check-in is announced
// once per window, and a redelivered tick has no second effect.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { licenses, outbox } from '../core/schema.js';
import { startLmsHarness, type LmsHarness } from '../testing/harness.js';

describe('lms-api sweep (io.zenokube.lms.sweep.scheduled)', () => {
  let tdb: TestDatabase;
  let h: LmsHarness;
  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    h = await startLmsHarness(tdb.database);
  });
  after(async () => {
    await h?.close();
    await tdb?.drop();
  });

  const tick = (id: string) =>
    h.hosted.app.request('/_events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/apis/v1/namespaces/zenokube/pingsources/lms-sweep', 'ce-type': 'io.zenokube.lms.sweep.scheduled' },
      body: JSON.stringify({ schedule: 'lms-sweep' }),
    });
  const eventsOf = async (id: string, type: string) => (await tdb.database.db.select().from(outbox).where(and(eq(outbox.subject, id), eq(outbox.type, type)))).length;

  it('expires licenses past grace and announces a missed check-in once', async () => {
    const admin = await h.token('acme');
    const call = async (path: string, body: unknown) =>
      (await (await h.fetch(`/lms/acme/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify(body) })).json()) as Record<string, string>;
    const product = await call('/products', { name: 'agent' });
    const short = await call('/policies', { product: product.id, name: 'trial', maxMachines: 1, duration: 'P7D', gracePeriod: 'P1D' });
    const heartbeat = await call('/policies', { product: product.id, name: 'site', maxMachines: 5, checkInInterval: 'P1D' });
    const trial = await call('/licenses', { policy: short.id });
    const site = await call('/licenses', { policy: heartbeat.id });

    h.clock.advance(2 * 86_400);
    assert.equal((await tick('t1')).status, 202);
    assert.equal(await eventsOf(site.id!, 'io.zenokube.lms.check-in.missed'), 1);
    assert.equal(await eventsOf(trial.id!, 'io.zenokube.lms.license.expired'), 0);
    assert.equal((await tick('t1')).status, 202, 'a redelivery is acknowledged');
    assert.equal((await tick('t2')).status, 202);
    assert.equal(await eventsOf(site.id!, 'io.zenokube.lms.check-in.missed'), 1, 'announced once per window');

    h.clock.advance(7 * 86_400);
    assert.equal((await tick('t3')).status, 202);
    assert.equal(await eventsOf(trial.id!, 'io.zenokube.lms.license.expired'), 1);
    const [row] = await tdb.database.db.select().from(licenses).where(eq(licenses.id, trial.id!));
    assert.equal(row!.status, 'expired');
    assert.equal((await tick('t4')).status, 202);
    assert.equal(await eventsOf(trial.id!, 'io.zenokube.lms.license.expired'), 1);
  });
});
