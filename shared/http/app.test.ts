import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { z } from 'zod';
import { createLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { createPlatformApp, type AppEnv, type ErrorRenderer, type ReadinessCheck } from './app.js';
import { DatabaseUnavailableError } from '#shared/db/errors';
import { AppError } from './errors.js';
import { jsonBody } from './validate.js';

/** Problem bodies are loosely typed in these tests. */
const json = async (res: Response): Promise<any> => res.json();

function build(opts: { readiness?: () => Promise<ReadinessCheck[]>; liveness?: () => ReadinessCheck[]; renderError?: ErrorRenderer } = {}) {
  const lines: string[] = [];
  const log = createLogger({ sink: (l) => lines.push(l), level: 'debug' });
  const metrics = createMetrics({ defaults: false });
  const inner = new Hono();
  inner.post('/things', async (c) => {
    const body = await jsonBody(c, z.object({ name: z.string().min(1).max(20), count: z.number().int() }));
    return c.json({ ok: true, name: body.name }, 201);
  });
  inner.get('/teapot', () => {
    throw new AppError(418, 'teapot', "I'm a teapot", { detail: 'short and stout' });
  });
  inner.get('/crash', () => {
    throw new Error('db password=hunter2 leaked in message');
  });
  inner.get('/pool-timeout', () => {
    // As drizzle hands it on: its own error, the data layer's as the cause.
    throw new Error('Failed query: select 1', { cause: new DatabaseUnavailableError('db_pool_timeout', 'no connection within 5000 ms') });
  });
  inner.get('/statement-timeout', () => {
    throw new Error('Failed query: select pg_sleep(60)', { cause: Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }) });
  });
  inner.get('/unique', () => {
    throw new Error('Failed query: insert', { cause: Object.assign(new Error('duplicate key value'), { code: '23505' }) });
  });
  const app = createPlatformApp(inner, {
    name: 'test-fn',
    log,
    metrics,
    bodyLimitBytes: 1024,
    readiness: opts.readiness ?? (async () => [{ name: 'database', ok: true }]),
    ...(opts.liveness ? { liveness: opts.liveness } : {}),
    renderError: opts.renderError,
  });
  return { app, lines };
}

const post = (body: string, type = 'application/json', headers: Record<string, string> = {}) => ({
  method: 'POST',
  body,
  headers: { 'content-type': type, ...headers },
});

describe('the function contract', () => {
  it('answers /healthz with 200', async () => {
    const res = await build().app.request('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('answers /readyz with 503 and the failing check when a dependency is down', async () => {
    const { app } = build({ readiness: async () => [{ name: 'database', ok: false }] });
    const res = await app.request('/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual((await json(res)).checks, [{ name: 'database', ok: false }]);
  });

  it('answers /healthz with 503 and the failing check when the process is stuck', async () => {
    const { app } = build({ liveness: () => [{ name: 'database pool', ok: false, detail: 'all 10 connections held' }] });
    const res = await app.request('/healthz');
    assert.equal(res.status, 503);
    assert.deepEqual(await json(res), { status: 'unhealthy', checks: [{ name: 'database pool', ok: false, detail: 'all 10 connections held' }] });
    assert.equal((await build({ liveness: () => [{ name: 'database pool', ok: true }] }).app.request('/healthz')).status, 200);
  });

  it('answers /readyz with 503 when the readiness probe itself throws', async () => {
    const { app } = build({ readiness: async () => { throw new Error('no connection'); } });
    assert.equal((await app.request('/readyz')).status, 503);
  });

  it('exposes the request-duration histogram on /metrics', async () => {
    const { app } = build();
    await app.request('/teapot');
    const text = await (await app.request('/metrics')).text();
    assert.match(text, /zeno_http_request_duration_seconds_count\{fn="test-fn",method="GET",route="\/teapot",status="418"\} 1/);
  });

  it('takes the request id from X-Request-Id and echoes it', async () => {
    const res = await build().app.request('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
  });

  it('takes the trace id of a W3C traceparent as the request id', async () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await build().app.request('/healthz', { headers: { traceparent: tp } });
    assert.equal(res.headers.get('x-request-id'), '4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('mints a request id instead of echoing a hostile one', async () => {
    const res = await build().app.request('/healthz', { headers: { 'x-request-id': '<script>alert(1)</script>' } });
    assert.match(res.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  });

  it('logs one JSON line per request with the request id', async () => {
    const { app, lines } = build();
    await app.request('/teapot?code=secret-code', { headers: { 'x-request-id': 'rid-1' } });
    const records = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === 'request');
    assert.equal(records.length, 1);
    assert.equal(records[0].request_id, 'rid-1');
    assert.equal(records[0].status, 418);
    assert.ok(!lines.join().includes('secret-code'), 'query strings are not logged');
  });

  it('sets secure headers', async () => {
    const res = await build().app.request('/healthz');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('strict-transport-security'));
  });

  it('renders AppError as RFC 9457 problem+json', async () => {
    const res = await build().app.request('/teapot', { headers: { 'x-request-id': 'r9' } });
    assert.equal(res.status, 418);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const body = await json(res);
    assert.equal(body.code, 'teapot');
    assert.equal(body.detail, 'short and stout');
    assert.equal(body.instance, 'urn:request:r9');
  });

  it('answers an unknown route with a 404 problem', async () => {
    const res = await build().app.request('/nope');
    assert.equal(res.status, 404);
    assert.equal((await json(res)).code, 'not_found');
  });

  it('hides the cause of an unexpected failure and logs it once', async () => {
    const { app, lines } = build();
    const res = await app.request('/crash');
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.ok(!text.includes('hunter2') && !text.includes('leaked'));
    assert.equal(JSON.parse(text).code, 'internal_error');
    assert.equal(lines.filter((l) => JSON.parse(l).msg === 'unhandled error').length, 1);
  });
});

describe('a function that renders the platform errors in its own shape', () => {
  // As a protocol would (Vault's `{"errors": [...]}`); 418 is left to problem+json.
  const renderError: ErrorRenderer = (err) =>
    err.status === 418 ? undefined : Response.json({ errors: [err.detail ?? err.message] }, { status: err.status, headers: err.headers ?? {} });

  it('renders 413, no route, the fixed 500 and 503 through it', async () => {
    const { app } = build({ renderError });
    const tooLarge = await app.request('/things', post(JSON.stringify({ name: 'x'.repeat(5000), count: 1 })));
    assert.equal(tooLarge.status, 413);
    assert.deepEqual(await tooLarge.json(), { errors: ['The request body exceeds 1024 bytes.'] });
    const missing = await app.request('/nowhere');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { errors: ['No route for GET /nowhere.'] });
    const crash = await app.request('/crash');
    assert.equal(crash.status, 500);
    assert.deepEqual(await crash.json(), { errors: ['internal error'] });
    const unavailable = await app.request('/pool-timeout');
    assert.equal(unavailable.status, 503);
    assert.ok(unavailable.headers.get('retry-after'));
    assert.equal((await json(unavailable)).errors.length, 1);
  });

  it('keeps problem+json where it renders nothing', async () => {
    const res = await build({ renderError }).app.request('/teapot');
    assert.equal(res.status, 418);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
  });
});

describe('a database that cannot serve the request', () => {
  it('answers 503 problem+json with Retry-After and the stable code, exposing nothing of the cause', async () => {
    const { app, lines } = build();
    const res = await app.request('/pool-timeout');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.headers.get('retry-after'), '1');
    const body = await json(res);
    assert.equal(body.code, 'db_pool_timeout');
    assert.doesNotMatch(JSON.stringify(body), /5000|select/);
    assert.equal(lines.filter((l) => JSON.parse(l).msg === 'database unavailable').length, 1);
  });

  it('answers a statement cancelled by statement_timeout with 503 db_timeout', async () => {
    const res = await build().app.request('/statement-timeout');
    assert.equal(res.status, 503);
    assert.equal((await json(res)).code, 'db_timeout');
  });

  it('keeps any other database error a 500', async () => {
    assert.equal((await build().app.request('/unique')).status, 500);
  });
});

describe('input validation at the edge', () => {
  it('accepts a well-formed body', async () => {
    const res = await build().app.request('/things', post('{"name":"a","count":1}'));
    assert.equal(res.status, 201);
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await build().app.request('/things', post('{"name":'));
    assert.equal(res.status, 400);
    assert.equal((await json(res)).code, 'malformed_json');
  });

  it('answers a wrong content type with 415', async () => {
    const res = await build().app.request('/things', post('name=a', 'application/x-www-form-urlencoded'));
    assert.equal(res.status, 415);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
  });

  it('answers a schema mismatch with 422 listing each problem', async () => {
    const res = await build().app.request('/things', post('{"name":"","count":"x"}'));
    assert.equal(res.status, 422);
    const body = await json(res);
    assert.equal(body.code, 'validation_failed');
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path).sort(), ['count', 'name']);
  });

  it('answers an oversized body with 413 before reading it all', async () => {
    const res = await build().app.request('/things', post(JSON.stringify({ name: 'x'.repeat(5000), count: 1 })));
    assert.equal(res.status, 413);
    assert.equal((await json(res)).code, 'payload_too_large');
  });

  it('answers an oversized chunked body with 413', async () => {
    const big = new TextEncoder().encode('{"name":"' + 'y'.repeat(4000) + '","count":1}');
    const stream = new ReadableStream({
      start(ctrl) {
        for (let i = 0; i < big.length; i += 512) ctrl.enqueue(big.slice(i, i + 512));
        ctrl.close();
      },
    });
    const req = new Request('http://x/things', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      duplex: 'half',
    } as RequestInit);
    const res = await build().app.fetch(req);
    assert.equal(res.status, 413);
  });
});

describe('the contract over a real socket', () => {
  it('sends the request id and secure headers on a handler’s own Response, keeping a header the handler set', async () => {
    const { listen } = await import('./serve.js');
    const inner = new Hono();
    inner.post('/raw', () => new Response('{"ok":true}', { headers: { 'content-type': 'application/json', 'x-frame-options': 'DENY' } }));
    const lines: string[] = [];
    const app = createPlatformApp(inner, {
      name: 'test-fn',
      log: createLogger({ sink: (l) => lines.push(l) }),
      metrics: createMetrics({ defaults: false }),
      bodyLimitBytes: 16,
      readiness: async () => [],
    });
    const server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/raw?token=zqzq`, { method: 'POST', body: 'x', headers: { 'x-request-id': 'sock-1' } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true });
      assert.equal(res.headers.get('x-request-id'), 'sock-1');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('content-type'), 'application/json');
      const tooBig = await fetch(`http://127.0.0.1:${server.port}/raw`, { method: 'POST', body: 'y'.repeat(64) });
      assert.equal(tooBig.status, 413);
      assert.equal(tooBig.headers.get('content-type'), 'application/problem+json');
      assert.equal(tooBig.headers.get('strict-transport-security'), 'max-age=15552000; includeSubDomains');
      assert.match(tooBig.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
      const records = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === 'request');
      assert.deepEqual(records.map((r) => [r.request_id, r.path, r.status]), [['sock-1', '/raw', 200], [tooBig.headers.get('x-request-id'), '/raw', 413]]);
      assert.ok(!lines.join().includes('zqzq'), 'query strings are not logged');
    } finally {
      await server.close(100);
    }
  });

  it('keeps a handler’s own value for a secure header in process too', async () => {
    const inner = new Hono();
    inner.get('/page', (c) => c.text('hi', 200, { 'x-frame-options': 'DENY' }));
    const app = createPlatformApp(inner, { name: 't', log: createLogger({ sink: () => {} }), metrics: createMetrics({ defaults: false }), bodyLimitBytes: 16, readiness: async () => [] });
    const res = await app.request('/page');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  it('gives handlers a logger that stamps the request id', async () => {
    const lines: string[] = [];
    const inner = new Hono<AppEnv>();
    inner.get('/note', (c) => {
      c.get('log').warn('noted', { thing: 1 });
      return c.text('ok');
    });
    const app = createPlatformApp(inner, { name: 't', log: createLogger({ sink: (l) => lines.push(l) }), metrics: createMetrics({ defaults: false }), bodyLimitBytes: 16, readiness: async () => [] });
    await app.request('/note', { headers: { 'x-request-id': 'rid-7' } });
    const noted = lines.map((l) => JSON.parse(l)).find((r) => r.msg === 'noted');
    assert.equal(noted.request_id, 'rid-7');
    assert.equal(noted.thing, 1);
  });
});
