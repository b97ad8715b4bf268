// Malformed and hostile CloudEvents at the broker ingress and at a function's /_events, over real
// HTTP, with the `cloudevents` SDK as the well-behaved peer: each bad request is a clear 4xx
// problem+json, never a 500.
// @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { CloudEvent, HTTP } from 'cloudevents';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { count, startFixtureStack, waitFor } from './events-stack.js';

const TYPE = 'io.zenokube.fixture.note.created';
const LIMIT = 16 * 1024;

function sdkEvent(data: unknown, extra: Record<string, string> = {}) {
  return new CloudEvent({ id: randomUUID(), source: '/fixture/producer', type: TYPE, data, ...extra });
}

describe('CloudEvents over HTTP: binary and structured mode, and malformed input', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;
  let broker: string;
  let consumer: string;

  before(async () => {
    tdb = await createTestDatabase();
    stack = await startFixtureStack(tdb.database, {}, { ZENO_BODY_LIMIT: String(LIMIT) });
    broker = stack.brokerUrl;
    consumer = `${stack.localUrl}/_fn/fixture-consumer/_events`;
  });
  after(async () => {
    await stack?.stop();
    await tdb?.drop();
  });

  async function post(url: string, headers: Record<string, string>, body: string | Buffer) {
    const res = await fetch(url, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as { code?: string; status?: number }) : undefined, headers: res.headers };
  }

  const receipt = (id: string) => count(tdb.database, sql`select count(*) as n from fixture.receipts where event_id = ${id}`);

  describe('the SDK as producer', () => {
    it('accepts a binary-mode event at the consumer and commits its effect', async () => {
      const ev = sdkEvent({ noteId: 'b1', text: 'binary' });
      const msg = HTTP.binary(ev);
      const res = await post(consumer, msg.headers as Record<string, string>, msg.body as string);
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('zeno-event-status'), 'processed');
      assert.equal(await receipt(ev.id), 1);
    });

    it('accepts a structured-mode event at the consumer and commits its effect', async () => {
      const ev = sdkEvent({ noteId: 's1', text: 'structured' });
      const msg = HTTP.structured(ev);
      const res = await post(consumer, msg.headers as Record<string, string>, msg.body as string);
      assert.equal(res.status, 202);
      assert.equal(await receipt(ev.id), 1);
    });

    it('routes a structured event with an extension through the broker, attributes intact', async () => {
      const ev = sdkEvent({ noteId: 's2', text: 'via broker' }, { subject: 'note s2 ü', tenantid: 'acme' });
      const msg = HTTP.structured(ev);
      const res = await post(broker, msg.headers as Record<string, string>, msg.body as string);
      assert.equal(res.status, 202);
      await waitFor('the receipt', async () => ((await receipt(ev.id)) === 1 ? true : undefined));
      const [row] = await tdb.database.query<{ attributes: Record<string, string> }>(sql`select attributes from eventing.events where id = ${ev.id}`);
      assert.equal(row?.attributes.tenantid, 'acme');
      assert.equal(row?.attributes.subject, 'note s2 ü');
    });

    it('takes a repeated event id from the same source once at the broker', async () => {
      const ev = sdkEvent({ noteId: 'd1', text: 'dup' });
      const msg = HTTP.binary(ev);
      const first = await post(broker, msg.headers as Record<string, string>, msg.body as string);
      const second = await post(broker, msg.headers as Record<string, string>, msg.body as string);
      assert.equal(first.status, 202);
      assert.equal(second.status, 202);
      assert.equal(second.headers.get('zeno-duplicate'), 'true');
      assert.equal(await count(tdb.database, sql`select count(*) as n from eventing.events where id = ${ev.id}`), 1);
    });
  });

  const binaryHeaders = (over: Record<string, string | undefined> = {}) => {
    const h: Record<string, string | undefined> = {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': '/fixture/producer',
      'ce-type': TYPE,
      ...over,
    };
    return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>;
  };
  const goodData = JSON.stringify({ noteId: 'x', text: 'x' });

  const cases: { name: string; headers: Record<string, string>; body: string | Buffer; status: number; code: string; where?: 'consumer' }[] = [
    { name: 'structured mode with malformed JSON', headers: { 'content-type': 'application/cloudevents+json' }, body: '{"id": "1", ', status: 400, code: 'malformed_json' },
    { name: 'structured mode with a JSON array', headers: { 'content-type': 'application/cloudevents+json' }, body: '[1,2]', status: 400, code: 'invalid_cloudevent' },
    { name: 'binary mode whose JSON data is malformed', headers: binaryHeaders(), body: '{"noteId":', status: 400, code: 'malformed_json', where: 'consumer' },
    { name: 'a plain JSON body without ce- headers (wrong content type)', headers: { 'content-type': 'application/json' }, body: goodData, status: 415, code: 'unsupported_media_type' },
    { name: 'text/plain without ce- headers', headers: { 'content-type': 'text/plain' }, body: 'hello', status: 415, code: 'unsupported_media_type' },
    { name: 'binary data that is not JSON for a JSON event type', headers: binaryHeaders({ 'content-type': 'text/plain' }), body: 'hello', status: 415, code: 'unsupported_media_type', where: 'consumer' },
    { name: 'batched mode', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]', status: 415, code: 'unsupported_media_type' },
    { name: 'a structured format other than JSON', headers: { 'content-type': 'application/cloudevents+avro' }, body: 'x', status: 415, code: 'unsupported_media_type' },
    { name: 'a missing ce-id', headers: binaryHeaders({ 'ce-id': undefined }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'a missing ce-source', headers: binaryHeaders({ 'ce-source': undefined }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'a missing ce-type', headers: binaryHeaders({ 'ce-type': undefined }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'a missing ce-specversion', headers: binaryHeaders({ 'ce-specversion': undefined }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'specversion 0.3', headers: binaryHeaders({ 'ce-specversion': '0.3' }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'an empty ce-id', headers: binaryHeaders({ 'ce-id': '' }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'a ce-time that is not RFC 3339', headers: binaryHeaders({ 'ce-time': 'yesterday' }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'a malformed percent-encoding', headers: binaryHeaders({ 'ce-subject': '%E0%A4%A' }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    { name: 'an attribute name with capitals and dashes', headers: binaryHeaders({ 'ce-bad-name': 'x' }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    {
      name: 'structured mode with both data and data_base64',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: TYPE, data: {}, data_base64: 'AA==' }),
      status: 400,
      code: 'invalid_cloudevent',
    },
    {
      name: 'structured mode with an object-valued attribute',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: TYPE, subject: { a: 1 } }),
      status: 400,
      code: 'invalid_cloudevent',
    },
    { name: 'a payload that does not match the catalog schema', headers: binaryHeaders(), body: JSON.stringify({ noteId: 42 }), status: 400, code: 'invalid_event_data', where: 'consumer' },
    { name: 'an event type the function does not handle', headers: binaryHeaders({ 'ce-type': 'io.zenokube.fixture.note.archived' }), body: JSON.stringify({ noteId: 'x' }), status: 400, code: 'unhandled_event_type', where: 'consumer' },
    { name: 'a ce-id of 3,000 characters (past the btree limit of the event keys)', headers: binaryHeaders({ 'ce-id': randomBytes(2_250).toString('base64') }), body: goodData, status: 400, code: 'invalid_cloudevent' },
    {
      name: 'structured mode with a lone surrogate in the id',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: `{"specversion":"1.0","id":"\\ud800","source":"/s","type":"${TYPE}","data":{"noteId":"x","text":"x"}}`,
      status: 400,
      code: 'malformed_json',
    },
    {
      name: 'structured mode with data nested 5,000 levels deep',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: `{"specversion":"1.0","id":"deep","source":"/s","type":"${TYPE}","data":${'['.repeat(5_000)}${']'.repeat(5_000)}}`,
      status: 400,
      code: 'malformed_json',
    },
    { name: 'binary data nested 5,000 levels deep', headers: binaryHeaders(), body: '['.repeat(5_000) + ']'.repeat(5_000), status: 400, code: 'malformed_json', where: 'consumer' },
    { name: 'an oversized body', headers: binaryHeaders(), body: JSON.stringify({ noteId: 'x', text: 'a'.repeat(LIMIT) }), status: 413, code: 'payload_too_large' },
  ];

  for (const where of ['broker', 'consumer'] as const) {
    describe(`rejects at the ${where === 'broker' ? 'broker ingress' : "consumer's /_events"}`, () => {
      for (const c of cases.filter((x) => where === 'consumer' || x.where !== 'consumer')) {
        it(`${c.name} with ${c.status} ${c.code}`, async () => {
          const res = await post(where === 'broker' ? broker : consumer, c.headers, c.body);
          assert.equal(res.status, c.status, JSON.stringify(res.body));
          assert.match(res.type, /^application\/problem\+json/);
          assert.equal(res.body?.code, c.code);
          assert.equal(res.body?.status, c.status);
        });
      }
    });
  }

  it('stores nothing and creates no delivery for any rejected request', async () => {
    assert.equal(await count(tdb.database, sql`select count(*) as n from eventing.events where source = '/s'`), 0);
    assert.equal(await count(tdb.database, sql`select count(*) as n from eventing.dead_letters`), 0);
  });

  it('answers a bad event alone: the valid events sent with it are all accepted and delivered', async () => {
    const good = Array.from({ length: 30 }, (_, i) => sdkEvent({ noteId: `iso${i}`, text: 'isolated' }));
    const send = (ev: CloudEvent<unknown>) => {
      const msg = HTTP.binary(ev);
      return post(broker, msg.headers as Record<string, string>, msg.body as string);
    };
    const results = await Promise.all([
      ...good.slice(0, 15).map(send),
      post(broker, binaryHeaders({ 'ce-id': randomBytes(2_250).toString('base64') }), goodData),
      post(broker, { 'content-type': 'application/cloudevents+json' }, `{"specversion":"1.0","id":"\\udc00","source":"/s","type":"${TYPE}"}`),
      ...good.slice(15).map(send),
    ]);
    assert.deepEqual(results.map((r) => r.status), [...Array(15).fill(202), 400, 400, ...Array(15).fill(202)]);
    for (const ev of good) await waitFor('each receipt', async () => ((await receipt(ev.id)) === 1 ? true : undefined));
  });

  it('answers 404 problem+json for an unknown broker', async () => {
    const msg = HTTP.binary(sdkEvent({ noteId: 'n', text: 'n' }));
    const res = await post(`${stack.localUrl}/_broker/other/nowhere`, msg.headers as Record<string, string>, msg.body as string);
    assert.equal(res.status, 404);
    assert.match(res.type, /^application\/problem\+json/);
  });
});
