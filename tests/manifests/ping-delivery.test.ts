// A generated PingSource's event, as Knative delivers it (through the Broker, to the Trigger's
// subscriber), reaches the function's handler for the declared type (PingSource fixes `type`; the
// declared one travels in the `zenotype` extension, which the Trigger also matches).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { defaultOptions, generateManifests } from '#manifests/index';
import { catalog } from '#eventing/catalog';
import { createEventReceiver, type ReceivedEvent } from '#shared/events/receive';
import { PING_SOURCE_TYPE } from '#shared/events/schedule';
import { defineFunction } from '#shared/function/define';
import { AppError } from '#shared/http/errors';
import { silentLogger } from '#shared/log/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';

const TICK = 'io.zenokube.eventing.schedule.ticked';

const sweeper = defineFunction({
  name: 'fixture-sweeper',
  product: 'fixture',
  description: 'sweeps on a schedule',
  routes: [],
  scaling: { minScale: 0, maxScale: 1, containerConcurrency: 10, timeoutSeconds: 30 },
  subscribes: [{ type: TICK, path: '/events/tick' }],
  schedules: [{ name: 'hourly', schedule: '0 * * * *', type: TICK }],
  load: async () => {
    throw new Error('not loaded in this test');
  },
});

/** The binary-mode request Knative delivers for the PingSource `spec` at the Trigger's subscriber `uri`. */
function pingRequest(spec: any, uri: string, extra: Record<string, string> = {}): Request {
  const headers: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': randomUUID(),
    'ce-source': '/apis/v1/namespaces/zenokube/pingsources/fixture-sweeper-hourly',
    'ce-type': PING_SOURCE_TYPE,
    'content-type': spec.contentType,
    ...extra,
  };
  for (const [k, v] of Object.entries(spec.ceOverrides.extensions as Record<string, string>)) headers[`ce-${k}`] = v;
  return new Request(`http://fn${uri}`, { method: 'POST', headers, body: spec.data });
}

describe('PingSource delivery', () => {
  let tdb: TestDatabase;
  const seen: ReceivedEvent[] = [];
  let app: Hono;
  let spec: any;
  let uri: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    const receive = createEventReceiver({
      database: tdb.database,
      product: 'fixture',
      catalog,
      handlers: { [TICK]: async (event) => void seen.push(event) },
      log: silentLogger,
    });
    app = new Hono();
    app.post('/events/tick', receive);
    app.onError((err) => (err instanceof AppError ? err.getResponse('test') : new Response('unexpected', { status: 500 })));
    const docs = generateManifests([sweeper], defaultOptions('1.0.0')).objects.get('functions/fixture-sweeper.yaml') as any[];
    spec = docs.find((d) => d.kind === 'PingSource').spec;
    const trigger = docs.find((d) => d.kind === 'Trigger');
    uri = trigger.spec.subscriber.uri;
    // The Trigger lets exactly this PingSource's events through: its filter is what the event carries.
    assert.equal(spec.sink.ref.kind, 'Broker');
    assert.equal(spec.ceOverrides.extensions.zenotype, TICK);
    assert.deepEqual(trigger.spec.filter.attributes, { type: PING_SOURCE_TYPE, zenotype: spec.ceOverrides.extensions.zenotype });
  });
  after(async () => {
    await tdb.drop();
  });

  it('runs the handler of the declared type with the declared (default) payload', async () => {
    const res = await app.request(pingRequest(spec, uri));
    assert.equal(res.status, 202, await res.text());
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.type, TICK);
    assert.deepEqual(seen[0]!.data, { schedule: 'hourly' });
  });

  it('rejects a PingSource event that carries no declared type with a clear 400', async () => {
    const bare = { ...spec, ceOverrides: { extensions: {} } };
    const res = await app.request(pingRequest(bare, uri));
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, 'unhandled_event_type');
  });

  it('does not let the extension retype an event of any other type', async () => {
    const res = await app.request(pingRequest(spec, uri, { 'ce-type': 'io.zenokube.fixture.note.created' }));
    assert.equal(res.status, 400);
    assert.equal(seen.length, 1);
  });
});
