// listen(): serves a fetch handler over a real socket with Node's fetch globals left as Node made
// them, and drains what is in flight when it closes.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { createPlatformApp } from './app.js';
import { listen } from './serve.js';

/** Node's own classes, as this process found them before any server ran. */
const OWN = { Request, Response, Headers } as const;

/**
 * One request over a fresh connection; resolves to the status and body. A body goes chunked
 * (no Content-Length) unless `headers` declare its length.
 */
function ask(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('listen', () => {
  it('leaves Node\'s Request, Response and Headers as the globals while it serves', async () => {
    let seen: unknown;
    const server = await listen(
      async (req) => {
        seen = { isRequest: req instanceof Request, method: req.method, body: await req.text() };
        return Response.json({ ok: true }, { headers: new Headers({ 'x-own': '1' }) });
      },
      { port: 0, host: '127.0.0.1' },
    );
    try {
      const res = await ask(server.port, 'POST', '/p', 'hello');
      assert.deepEqual(res, { status: 200, body: '{"ok":true}' });
      assert.deepEqual(seen, { isRequest: true, method: 'POST', body: 'hello' });
      assert.equal(globalThis.Request, OWN.Request, 'Request');
      assert.equal(globalThis.Response, OWN.Response, 'Response');
      assert.equal(globalThis.Headers, OWN.Headers, 'Headers');
    } finally {
      await server.close();
    }
  });

  it('hands on a body of undeclared length in a Request that Node\'s Request constructor takes as input', async () => {
    // What hono/body-limit does to a body it had to stream: new Request(req, { body }).
    const server = await listen(
      async (req) => {
        const again = new Request(req, { body: req.body === null ? null : await req.arrayBuffer() });
        return new Response(`${again.method} ${await again.text()}`);
      },
      { port: 0, host: '127.0.0.1' },
    );
    try {
      assert.deepEqual(await ask(server.port, 'POST', '/', 'chunked'), { status: 200, body: 'POST chunked' });
      assert.deepEqual(await ask(server.port, 'DELETE', '/'), { status: 200, body: 'DELETE ' });
      assert.deepEqual(await ask(server.port, 'OPTIONS', '/'), { status: 200, body: 'OPTIONS ' });
    } finally {
      await server.close();
    }
  });

  it('serves a platform app every method, with a body of declared, undeclared or no length', async () => {
    const inner = new Hono();
    inner.all('/echo', async (c) => c.text(`${c.req.method} ${await c.req.text()}`));
    const app = createPlatformApp(inner, { name: 'serve-test', log: silentLogger, metrics: createMetrics({ defaults: false }), bodyLimitBytes: 16, readiness: async () => [] });
    const server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
    try {
      assert.deepEqual(await ask(server.port, 'POST', '/echo', 'chunked'), { status: 200, body: 'POST chunked' });
      assert.deepEqual(await ask(server.port, 'POST', '/echo', 'declared', { 'content-length': '8' }), { status: 200, body: 'POST declared' });
      for (const method of ['DELETE', 'OPTIONS', 'PATCH', 'PUT']) assert.deepEqual(await ask(server.port, method, '/echo'), { status: 200, body: `${method} ` });
      assert.deepEqual(await ask(server.port, 'GET', '/echo'), { status: 200, body: 'GET ' });
      assert.equal((await ask(server.port, 'POST', '/echo', 'x'.repeat(17))).status, 413, 'over the limit, chunked');
      // A forbidden method (Fetch) stays the adapter's lightweight Request, which copes with it.
      assert.deepEqual(await ask(server.port, 'TRACE', '/echo'), { status: 200, body: 'TRACE ' });
    } finally {
      await server.close();
    }
  });

  it('answers a request in flight at close, then refuses new connections', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const started = new Promise<void>((r) => (arrived = r));
    const server = await listen(
      async () => {
        arrived();
        await held;
        return new Response('late');
      },
      { port: 0, host: '127.0.0.1' },
    );
    const inFlight = ask(server.port, 'GET', '/');
    await started;
    const closed = server.close(30_000);
    release();
    assert.deepEqual(await inFlight, { status: 200, body: 'late' });
    await closed;
    await assert.rejects(ask(server.port, 'GET', '/'), { code: 'ECONNREFUSED' });
  });
});
