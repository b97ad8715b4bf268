// listen(): serves a fetch handler over a real socket with Node's fetch globals left as Node made
// them, and drains what is in flight when it closes.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { listen } from './serve.js';

/** Node's own classes, as this process found them before any server ran. */
const OWN = { Request, Response, Headers } as const;

/** One request over a fresh connection; resolves to the status and body. */
function ask(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
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
