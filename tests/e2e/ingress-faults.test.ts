// ZenoIngress under faults, over real sockets: backend down (503 fast, circuit opens and
// recovers), idle backend (504), resets mid-body, client aborts mid-upload, 2,000 connections
// held open, malformed requests, size limits, path traversal and encoded-slash tricks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request } from 'undici';
import type { Ingress } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule, yamlStream } from '#tests/support/gateway-yaml';

async function listenRaw(handler: (s: Socket) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    handler(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

/** Sends raw bytes and returns what comes back until the proxy closes or `ms` pass. */
function raw(port: number, bytes: string, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.write(bytes);
    setTimeout(() => s.destroy(), ms).unref();
  });
}

describe('ingress fault handling', () => {
  let ingress: Ingress;
  let port = 0;
  let echo: EchoBackend;
  let admin: EchoBackend;
  let downPort = 0;
  let flaky: { server: Server; port: number; sockets: Set<Socket> };
  let stall: { server: Server; port: number; sockets: Set<Socket> };
  let upload: { server: ReturnType<typeof createHttpServer>; port: number; seen: { complete: boolean; bytes: number }[] };
  let base = '';

  before(async () => {
    echo = await startEcho('public', 't');
    admin = await startEcho('admin', 't');
    const probe = await listenRaw(() => {});
    downPort = probe.port;
    await new Promise<void>((r) => probe.server.close(() => r()));
    // Answers with headers promising 1000 bytes, sends 10, then resets.
    flaky = await listenRaw((s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789');
        setTimeout(() => s.resetAndDestroy(), 20);
      });
      s.on('error', () => {});
    });
    // Reads the request and never answers.
    stall = await listenRaw((s) => s.on('error', () => {}));
    const seen: { complete: boolean; bytes: number }[] = [];
    const up = createHttpServer((req: IncomingMessage, res) => {
      const rec = { complete: false, bytes: 0 };
      seen.push(rec);
      req.on('data', (d: Buffer) => (rec.bytes += d.length));
      req.on('end', () => {
        rec.complete = true;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    upload = { server: up, port: (up.address() as { port: number }).port, seen };
    const backends: Record<string, number> = { public: echo.port, admin: admin.port, down: downPort, flaky: flaky.port, stall: stall.port, upload: upload.port };
    const yaml = yamlStream(
      gatewayYaml({ name: 'gw', namespace: 't' }),
      httpRouteYaml({ name: 'r', namespace: 't', gateway: 'gw', rules: Object.keys(backends).map((n) => prefixRule(`/${n}`, n)) }),
      ...Object.entries(backends).map(([n, p]) => backendYaml(n, 't', p)),
    );
    const { set, problems } = parseManifests(yaml, 'faults');
    assert.deepEqual(problems, []);
    ingress = createIngress({
      bind: () => [{ host: '127.0.0.1', port: 0 }],
      drainMs: 100,
      circuit: { failureThreshold: 3, openMs: 300 },
      limits: { upstreamIdleMs: 300, maxUrlLength: 4096, maxHeaderBytes: 8192, headersTimeoutMs: 60_000 },
    });
    await ingress.apply(compile(set));
    port = ingress.address('t/gw', 80)!.port;
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await ingress.close();
    await Promise.all([echo.close(), admin.close()]);
    for (const s of [...flaky.sockets, ...stall.sockets]) s.destroy();
    upload.server.closeAllConnections();
    for (const s of [flaky.server, stall.server, upload.server]) await new Promise<void>((r) => s.close(() => r()));
  });

  const get = async (path: string) => {
    const r = await request(`${base}${path}`);
    const text = await r.body.text();
    return { status: r.statusCode, code: r.headers['x-zeno-ingress'], text };
  };

  it('answers 503 for a backend that refuses connections and opens its circuit; its only endpoint is still tried (panic)', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get('/down');
      assert.deepEqual([r.status, r.code], [503, 'backend_unavailable']);
    }
    assert.equal(ingress.context.breakers.state(`127.0.0.1:${downPort}`), 'open');
    // Every endpoint of the backend is out: the circuits are ignored rather than leave it none.
    const open = await get('/down');
    assert.deepEqual([open.status, open.code], [503, 'backend_unavailable']);
  });

  it('lets one probe through after the cool-down and closes the circuit when the backend is back', async () => {
    const back = createHttpServer((_, res) => res.end('back'));
    await new Promise<void>((r) => back.listen(downPort, '127.0.0.1', r));
    try {
      await new Promise((r) => setTimeout(r, 350));
      const probe = await get('/down');
      assert.equal(probe.status, 200);
      assert.equal(probe.text, 'back');
      assert.equal((await get('/down')).status, 200);
    } finally {
      back.closeAllConnections();
      await new Promise<void>((r) => back.close(() => r()));
    }
  });

  it('answers 504 when a backend accepts and never answers', async () => {
    const r = await get('/stall');
    assert.equal(r.status, 504);
    assert.equal(r.code, 'upstream_timeout');
  });

  it('cuts the client response short when the backend resets mid-body, and keeps serving', async () => {
    const r = await request(`${base}/flaky`);
    assert.equal(r.statusCode, 200);
    await assert.rejects(r.body.text());
    assert.equal((await get('/public/ok')).status, 200);
  });

  it('aborts the upstream request when the client goes away mid-upload', async () => {
    const before = upload.seen.length;
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
    s.write(Buffer.alloc(64 * 1024, 1));
    for (let i = 0; i < 100 && upload.seen.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    s.destroy();
    const rec = upload.seen[before]!;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rec.complete, false);
    assert.ok(rec.bytes < 1_000_000);
    assert.equal((await get('/public/ok')).status, 200);
  });

  it('streams a large upload through without buffering it whole', async () => {
    const before = upload.seen.length;
    const body = Buffer.alloc(8 * 1024 * 1024, 7);
    const r = await request(`${base}/upload`, { method: 'POST', body });
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'ok');
    assert.equal(upload.seen[before]!.bytes, body.length);
  });

  it('answers 400 to a malformed request and survives it', async () => {
    assert.match(await raw(port, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, 'GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, 'GET /public HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.equal((await get('/public/ok')).status, 200);
  });

  it('answers 431 to oversized headers and 414 to an oversized URL', async () => {
    const big = await request(`${base}/public`, { headers: { 'x-big': 'a'.repeat(10_000) } }).catch((e: Error) => e);
    if (big instanceof Error) assert.match(await raw(port, `GET /public HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(10_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
    else assert.equal(big.statusCode, 431);
    assert.equal((await get(`/public/${'a'.repeat(5000)}`)).status, 414);
  });

  it('normalises dot segments before routing, so a prefix cannot be used to reach another route', async () => {
    for (const path of ['/public/../admin', '/public/%2e%2e/admin', '/public/%2E%2E/admin/', '/public/./../admin']) {
      const r = await request(`${base}${path}`);
      const body = (await r.body.json()) as { service: string; path: string };
      assert.equal(body.service, 'admin', path);
      assert.match(body.path, /^\/admin\/?$/, path);
    }
  });

  it('keeps encoded slashes and double encoding opaque', async () => {
    assert.equal((await get('/public%2F..%2Fadmin')).status, 404);
    const r = await request(`${base}/public/%252e%252e/admin`);
    const body = (await r.body.json()) as { service: string; path: string };
    assert.equal(body.service, 'public');
    assert.equal(body.path, '/public/%252e%252e/admin');
  });

  it('holds 2,000 concurrent connections with bounded memory and keeps answering', async () => {
    const sockets: Socket[] = [];
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    try {
      for (let i = 0; i < 2000; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        // Half a request head: the server holds the connection, waiting for the rest.
        s.write('GET /public HTTP/1.1\r\nHost: x\r\n');
        sockets.push(s);
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(sockets.map((s) => (s.connecting ? new Promise((r) => s.once('connect', r)) : undefined)));
      assert.equal((await get('/public/while-held')).status, 200);
      const grown = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
      // Client and server sides of 2,000 sockets live in this one process.
      assert.ok(grown < 120, `rss grew ${grown.toFixed(1)} MB`);
      for (const s of sockets.slice(0, 10)) s.write('\r\n');
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      for (const s of sockets) s.destroy();
    }
    assert.equal((await get('/public/after')).status, 200);
  });
});
