// Bodies stream through ZenoIngress with backpressure both ways, proven by the proxy's own
// counters (`context.flow`: the most bytes one exchange made it hold): a client that reads a
// large response slowly, and an upstream that reads a large upload slowly, never make the proxy
// hold more than a few buffers, however much passes through; a legitimate client runs beside them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ingress } from '#functions/ingress/index';
import { assertServed, ended, ingressFor, legitimate, open } from './ingress-traffic.js';

const GUARD = { timeout: 180_000 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;
/** What one exchange may make the proxy hold: a few 64 KB buffers, whatever the body's size. */
const BOUND = 512 * 1024;

/**
 * `…/down?bytes=N`: N bytes written with backpressure. `…/up`: reads the body slowly (a pause after
 * every read) and answers with the byte count. `/legit`: `ok`.
 */
async function streamingBackend() {
  const server: Server = createServer((req: IncomingMessage, res) => {
    const down = /\/down\?bytes=(\d+)/.exec(req.url ?? '');
    if (down) {
      let left = Number(down[1]);
      res.writeHead(200, { 'content-length': left });
      const chunk = Buffer.alloc(64 * 1024, 'd');
      const write = () => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', write);
        }
        res.end();
      };
      return write();
    }
    if (req.url?.endsWith('/up')) {
      let bytes = 0;
      req.on('data', (d: Buffer) => {
        bytes += d.length;
        req.pause();
        setTimeout(() => req.resume(), 2);
      });
      req.on('end', () => res.end(String(bytes)));
      return;
    }
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('ingress body streaming with backpressure, by its own counters', GUARD, () => {
  let backend: Awaited<ReturnType<typeof streamingBackend>>;
  let ingress: Ingress;
  let port = 0;

  before(async () => {
    backend = await streamingBackend();
    ({ ingress, port } = await ingressFor({ app: backend.port }, { limits: { sendTimeoutMs: 120_000, upstreamIdleMs: 120_000 } }));
  });
  after(async () => {
    await ingress.close();
    await backend.close();
  });

  const traffic = () => legitimate(`http://127.0.0.1:${port}/app/legit`, { min: 100, max: 5_000, expect: 'ok' });

  it('holds at most a few buffers of a 32 MB response read slowly by its client', async (t) => {
    const legit = traffic();
    const flow = ingress.context.flow;
    flow.responsePeak = 0;
    const size = 32 * MB;
    const s = await open(port);
    s.pause();
    s.write(`GET /app/down?bytes=${size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    let got = 0;
    let reads = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      reads++;
      // The slow reader: a pause after every read.
      s.pause();
      setTimeout(() => s.resume(), 2);
    });
    const done = ended(s);
    s.resume();
    await done;
    s.destroy();
    const head = 'HTTP/1.1 200 OK'.length;
    assert.ok(got > size + head, `${got} bytes of a ${size}-byte response came`);
    assert.ok(reads > 100, 'the client read slowly');
    t.diagnostic(`most held of one response: ${flow.responsePeak} bytes, ${reads} reads`);
    assert.ok(flow.responsePeak > 0, 'the counter saw the response');
    assert.ok(flow.responsePeak <= BOUND, `the proxy held ${flow.responsePeak} bytes of one response`);
    assertServed(await legit.stop(), 100);
  });

  it('holds at most a few buffers of a 32 MB upload read slowly by its upstream', async (t) => {
    const legit = traffic();
    const flow = ingress.context.flow;
    flow.requestPeak = 0;
    const size = 32 * MB;
    const s = await open(port);
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const done = ended(s);
    s.write(`POST /app/up HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 'u');
    for (let sent = 0; sent < size; sent += chunk.length) {
      // Bounded: the proxy takes more as the upstream reads.
      if (!s.write(chunk)) await Promise.race([new Promise((r) => s.once('drain', r)), pause(30_000)]);
    }
    await done;
    s.destroy();
    assert.match(out, /^HTTP\/1\.1 200 /);
    assert.equal(out.slice(out.indexOf('\r\n\r\n') + 4), String(size), 'the upstream got the whole body');
    t.diagnostic(`most held of one upload: ${flow.requestPeak} bytes`);
    assert.ok(flow.requestPeak > 0, 'the counter saw the upload');
    assert.ok(flow.requestPeak <= BOUND, `the proxy held ${flow.requestPeak} bytes of one upload`);
    assertServed(await legit.stop(), 100);
  });
});
