// The fetch globals a platform server installs: Node's undici stays unloaded until a handler needs
// one of its classes, and then every class behaves as Node's own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '#shared/db/root';
import { nativeWebClasses } from './globals.js';
import { Headers } from './headers.js';

const run = promisify(execFile);

/**
 * A fresh process serves a platform app through listen() and answers two requests (JSON with a
 * header of the handler's own, then a problem+json 404), then builds a Request. It prints which of
 * Node's modules had loaded at each point, and what the globals were.
 */
const CHILD = `
import { Hono } from 'hono';
import { get } from 'node:http';
import { createPlatformApp } from '#shared/http/app';
import { listen } from '#shared/http/serve';
import { Headers as PlatformHeaders } from '#shared/http/web/headers';
import { silentLogger } from '#shared/log/index';
import { createDeferredMetrics } from '#shared/metrics/deferred';
const undici = () => process.moduleLoadList.includes('NativeModule internal/deps/undici/undici');
const inner = new Hono();
inner.get('/a', (c) => { c.header('x-own', c.req.header('x-in') ?? 'none'); return c.json({ ok: true }); });
const app = createPlatformApp(inner, { name: 'probe', log: silentLogger, metrics: createDeferredMetrics(), bodyLimitBytes: 1024, readiness: async () => [] });
const server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
const ask = (path) => new Promise((resolve, reject) => get({ host: '127.0.0.1', port: server.port, path, headers: { 'x-in': 'given' } }, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => resolve({ status: res.statusCode, own: res.headers['x-own'] ?? null, type: res.headers['content-type'], body }));
}).on('error', reject));
const answers = [await ask('/a'), await ask('/missing')];
const before = undici();
const req = new Request('http://example.test/', { headers: new Headers({ a: '1' }) });
const after = undici();
await server.close();
process.stdout.write(JSON.stringify({
  answers, before, after,
  headersOurs: globalThis.Headers === PlatformHeaders,
  requestHeader: req.headers.get('a'),
  requestIsRequest: req instanceof Request,
}));
`;

describe('fetch globals', () => {
  it('serves requests without loading undici, and loads it for the first Request built', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=development', '--import', 'tsx', '--input-type=module', '-e', CHILD], {
      cwd: projectRoot(),
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const got = JSON.parse(stdout) as Record<string, unknown>;
    const [found, missing] = got.answers as { status: number; own: string | null; type: string; body: string }[];
    assert.deepEqual(found, { status: 200, own: 'given', type: 'application/json', body: '{"ok":true}' });
    assert.equal(missing!.status, 404);
    assert.equal(missing!.type, 'application/problem+json');
    assert.equal((JSON.parse(missing!.body) as { status: number }).status, 404);
    assert.equal(got.before, false, 'undici was loaded to answer requests');
    assert.equal(got.after, true);
    assert.equal(got.headersOurs, true, 'loading undici must leave the installed Headers in place');
    assert.equal(got.requestHeader, '1');
    assert.equal(got.requestIsRequest, true);
  });

  it('builds Node\'s Request and Response, subclasses included, with their statics', async () => {
    const native = nativeWebClasses();
    assert.equal(globalThis.Headers, Headers);
    const req = new Request('http://example.test/p', { method: 'POST', body: 'x' });
    assert.ok(req instanceof Request);
    assert.ok(req instanceof native.Request);
    assert.equal(Object.prototype.toString.call(req), '[object Request]');
    assert.equal(await req.clone().text(), 'x');

    class Tagged extends Request {
      tag(): string {
        return `${this.method} ${new URL(this.url).pathname}`;
      }
    }
    const tagged = new Tagged('http://example.test/t');
    assert.ok(tagged instanceof Tagged);
    assert.ok(tagged instanceof Request);
    assert.equal(tagged.tag(), 'GET /t');
    assert.equal(req instanceof Tagged, false);

    const res = new Response('hi', { status: 201, headers: new Headers([['set-cookie', 'a=1'], ['set-cookie', 'b=2']]) });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), 'hi');
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.ok(res.headers instanceof Headers, 'Node\'s Headers answers instanceof Headers');
    const json = Response.json({ a: 1 }, { status: 202 });
    assert.equal(json.status, 202);
    assert.deepEqual(await json.json(), { a: 1 });
    assert.equal(Response.error().type, 'error');
    assert.equal(Response.redirect('http://example.test/r', 307).headers.get('location'), 'http://example.test/r');
  });

  it('counts the Responses fetch() returns as Responses', async () => {
    const server = createServer((_, res) => res.end('pong'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers: new Headers({ 'x-a': '1' }) });
      assert.ok(res instanceof Response);
      assert.ok(res.headers instanceof Headers);
      assert.equal(await res.text(), 'pong');
    } finally {
      server.close();
    }
  });
});
