// The in-process sender: a delivery to a function of this process reaches its platform app as
// it would over HTTP, and its answer is classified by the same rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import type { WireEvent } from '#shared/events/cloudevent';
import { createPlatformApp } from '#shared/http/app';
import { createLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import type { EventSender, SendResult } from '#shared/events/sender';
import type { HostedFunction } from '#shared/function/host';
import { createLocalSender } from './local-sender.js';

const LOCAL = 'http://127.0.0.1:4100';

const event: WireEvent = {
  attributes: { specversion: '1.0', id: 'e-1', source: '/fixture/producer', type: 'io.zenokube.fixture.note.created', datacontenttype: 'application/json' },
  data: new TextEncoder().encode('{"noteId":"n-1"}'),
};

function hosted(name: string, app: Hono<any>): HostedFunction {
  return { declaration: { name }, app } as unknown as HostedFunction;
}

function recordingFallback(): EventSender & { urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    send: async (url): Promise<SendResult> => {
      urls.push(url);
      return { ok: true, status: 202, retryable: false, error: undefined };
    },
    close: async () => {},
  };
}

describe('local sender', () => {
  it('hands a delivery to the function app with binary-mode headers, the body and a loopback caller', async () => {
    let seen: { path: string; id: string | undefined; type: string | undefined; body: string; remote: string | undefined } | undefined;
    const app = new Hono();
    app.post('/_events', async (c) => {
      const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } };
      seen = { path: c.req.path, id: c.req.header('ce-id'), type: c.req.header('content-type'), body: await c.req.text(), remote: env.incoming?.socket?.remoteAddress };
      return c.body(null, 202);
    });
    const fallback = recordingFallback();
    const sender = createLocalSender({ localUrl: LOCAL, hosted: [hosted('fixture-consumer', app)], fallback });
    const r = await sender.send(`${LOCAL}/_fn/fixture-consumer/_events`, event);
    assert.deepEqual(r, { ok: true, status: 202, retryable: false, error: undefined });
    assert.deepEqual(seen, { path: '/_events', id: 'e-1', type: 'application/json', body: '{"noteId":"n-1"}', remote: '127.0.0.1' });
    assert.deepEqual(fallback.urls, []);
  });

  it("keeps the platform's body limit: an event larger than it is refused with 413, not retried", async () => {
    const bodies: string[] = [];
    const inner = new Hono();
    inner.post('/_events', async (c) => {
      bodies.push(await c.req.text());
      return c.body(null, 202);
    });
    const limit = event.data!.byteLength;
    const app = createPlatformApp(inner, { name: 'f-a', log: createLogger({ sink: () => {} }), metrics: createMetrics({ defaults: false }), bodyLimitBytes: limit, readiness: async () => [] });
    const sender = createLocalSender({ localUrl: LOCAL, hosted: [hosted('f-a', app)], fallback: recordingFallback() });
    assert.equal((await sender.send(`${LOCAL}/_fn/f-a/_events`, event)).status, 202);
    const larger: WireEvent = { ...event, data: new TextEncoder().encode('{"noteId":"n-10"}') };
    const r = await sender.send(`${LOCAL}/_fn/f-a/_events`, larger);
    assert.equal(r.status, 413);
    assert.equal(r.retryable, false);
    assert.deepEqual(bodies, ['{"noteId":"n-1"}']);
  });

  it('classifies answers as the http sender does: 5xx and 429 retried, other 4xx not', async () => {
    const app = new Hono();
    app.post('/s/:status', (c) => c.text('nope', Number(c.req.param('status')) as 400));
    const sender = createLocalSender({ localUrl: LOCAL, hosted: [hosted('f-a', app)], fallback: recordingFallback() });
    const at = (s: number) => sender.send(`${LOCAL}/_fn/f-a/s/${s}`, event);
    assert.deepEqual(await at(500), { ok: false, status: 500, retryable: true, error: 'HTTP 500: nope' });
    assert.equal((await at(429)).retryable, true);
    assert.equal((await at(400)).retryable, false);
    assert.equal((await at(404)).retryable, true);
  });

  it('turns a handler that throws outside the platform wrapper into a retryable failure', async () => {
    const app = { fetch: () => Promise.reject(new Error('boom')) } as unknown as Hono;
    const sender = createLocalSender({ localUrl: LOCAL, hosted: [hosted('f-a', app)], fallback: recordingFallback() });
    const r = await sender.send(`${LOCAL}/_fn/f-a/_events`, event);
    assert.equal(r.ok, false);
    assert.equal(r.retryable, true);
    assert.match(r.error ?? '', /boom/);
  });

  it('gives up on a function that does not answer in time, as retryable', async () => {
    const app = { fetch: () => new Promise<Response>(() => {}) } as unknown as Hono;
    const sender = createLocalSender({ localUrl: LOCAL, hosted: [hosted('f-a', app)], fallback: recordingFallback(), timeoutMs: 20 });
    const r = await sender.send(`${LOCAL}/_fn/f-a/_events`, event);
    assert.equal(r.ok, false);
    assert.equal(r.retryable, true);
    assert.match(r.error ?? '', /TimeoutError/);
  });

  it('sends anything that is not a function of this process to the fallback sender', async () => {
    const fallback = recordingFallback();
    const sender = createLocalSender({ localUrl: LOCAL, hosted: [hosted('f-a', new Hono())], fallback });
    await sender.send('http://sink.example/dead', event);
    await sender.send(`${LOCAL}/_fn/unknown/_events`, event);
    await sender.send(`http://127.0.0.1:9999/_fn/f-a/_events`, event);
    await sender.send(`${LOCAL}/_broker/default/default`, event);
    assert.deepEqual(fallback.urls, [
      'http://sink.example/dead',
      `${LOCAL}/_fn/unknown/_events`,
      'http://127.0.0.1:9999/_fn/f-a/_events',
      `${LOCAL}/_broker/default/default`,
    ]);
  });
});
