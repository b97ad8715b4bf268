// ZenoIngress against attempts to exhaust it, over real sockets, each with a legitimate client
// beside the attacker that must keep >= 99.9% of its requests answered: hundreds of connections
// that trickle their bodies or stop reading, more of them than the endpoint's pool has connections
// (the body buffer, the request deadline and the send deadline keep the pool free), one connection pipelining without reading (reading stops: memory stays bounded), an
// upstream that answers an upload early with keep-alive and then closes (the connection is never
// reused), an upstream that drops reused connections unanswered (idempotent requests are sent
// again once), and large responses streamed with flat memory.
// @see https://www.rfc-editor.org/rfc/rfc9112#section-9.3.1 (retrying requests)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { request } from 'node:http';
import type { Ingress } from '#functions/ingress/index';
import { MAX_PIPELINED } from '#functions/ingress/index';
import type { RecordingBackend } from './ingress-traffic.js';
import { assertServed, ended, exchange, ingressFor, legitimate, open, recordingBackend } from './ingress-traffic.js';

const GUARD = { timeout: 180_000 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** A raw upstream: `answer` gets each request head on a connection (with its index there) and writes exact bytes. */
async function rawUpstream(answer: (s: Socket, head: string, n: number) => void): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    let n = 0;
    /** Body bytes of the last request still to skip; -1: a chunked body, after which nothing more is parsed. */
    let skip = 0;
    s.on('data', (d: Buffer) => {
      if (skip < 0) return;
      buf += d.toString('latin1');
      for (;;) {
        const skipped = Math.min(skip, buf.length);
        buf = buf.slice(skipped);
        skip -= skipped;
        const end = buf.indexOf('\r\n\r\n');
        if (skip > 0 || end < 0 || s.destroyed) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        skip = length ? Number(length[1]) : /\r\ntransfer-encoding:/i.test(head) ? -1 : 0;
        answer(s, head, n++);
        if (skip < 0) return;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, sockets };
}

const okResponse = (head: string) => {
  const body = `ok ${head.split(' ')[1]}`;
  return `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n${body}`;
};

describe('ingress against exhaustion: deadlines, pipelining, pool poisoning, large responses', GUARD, () => {
  let backend: RecordingBackend;
  let poison: Awaited<ReturnType<typeof rawUpstream>>;
  let dropper: Awaited<ReturnType<typeof rawUpstream>>;
  let ingress: Ingress;
  let port = 0;
  /** Requests the poisoning upstream got on a connection after refusing an upload on it. */
  let reusedAfterRefusal = 0;

  before(async () => {
    backend = await recordingBackend();
    // Answers an upload at once with 413 and keep-alive, then closes the connection anyway.
    const refused = new WeakSet<Socket>();
    poison = await rawUpstream((s, head) => {
      // Anything after a refused upload on its connection: the proxy reused what it must not.
      if (refused.has(s)) reusedAfterRefusal++;
      if (!head.startsWith('POST ')) return void s.write(okResponse(head));
      refused.add(s);
      s.write('HTTP/1.1 413 Content Too Large\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n');
      setTimeout(() => s.destroy(), 20);
    });
    // Keeps connections alive, but drops every third request on a connection unanswered, as a
    // server closing an idle keep-alive connection just as a request arrives would.
    dropper = await rawUpstream((s, head, n) => {
      if (n % 3 === 2) return void s.destroy();
      s.write(okResponse(head));
    });
    ({ ingress, port } = await ingressFor(
      { record: backend.port, poison: poison.port, dropper: dropper.port },
      {
        maxSocketsPerEndpoint: 32,
        circuit: { failureThreshold: 1_000, openMs: 1_000 },
        // The queue deadline is not under test here: requests wait for the connections the others free.
        limits: { headersTimeoutMs: 500, requestTimeoutMs: 1_000, sendTimeoutMs: 1_000, upstreamIdleMs: 5_000, queueTimeoutMs: 120_000 },
      },
    ));
  });
  after(async () => {
    await ingress.close();
    await backend.close();
    for (const u of [poison, dropper]) {
      for (const s of u.sockets) s.destroy();
      await new Promise<void>((r) => u.server.close(() => r()));
    }
  });

  const traffic = (path: string) => legitimate(`http://127.0.0.1:${port}${path}`, { min: 200, max: 5_000, expect: `ok ${path}` });

  it("frees the endpoint's pool from hundreds of connections that trickle bodies or stop reading", async () => {
    const legit = traffic('/record/legit');
    const hostile: Promise<string>[] = [];
    // Small bodies trickled: held in the proxy's buffer, they never take an upstream connection.
    for (let i = 0; i < 150; i++) {
      hostile.push(
        (async () => {
          const s = await open(port);
          let out = '';
          s.on('data', (d: Buffer) => (out += d.toString('latin1')));
          s.write(`POST /record/trickle-${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`);
          for (let n = 0; n < 200 && s.writable && !s.readableEnded; n++) {
            await pause(20);
            if (s.writable) s.write('x');
          }
          await ended(s);
          s.destroy();
          return out;
        })(),
      );
    }
    // Bodies past the buffer, then trickled: each holds an upstream connection until the request deadline.
    for (let i = 0; i < 40; i++) {
      hostile.push(
        (async () => {
          const s = await open(port);
          let out = '';
          s.on('data', (d: Buffer) => (out += d.toString('latin1')));
          s.write(`POST /record/slow-${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
          s.write(Buffer.alloc(80_000, 1));
          for (let n = 0; n < 200 && s.writable && !s.readableEnded; n++) {
            await pause(20);
            if (s.writable) s.write('x');
          }
          await ended(s);
          s.destroy();
          return out;
        })(),
      );
    }
    // Large responses never read: each holds an upstream connection until the send deadline.
    const readers: Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const s = await open(port);
      s.pause();
      s.write(`GET /record/big?bytes=${64 * 1024 * 1024}&n=${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      readers.push(s);
    }
    const answers = await Promise.all(hostile);
    for (const [i, out] of answers.entries()) assert.match(out, /^HTTP\/1\.1 408 /, `trickling client ${i}: ${JSON.stringify(out.slice(0, 80))}`);
    assertServed(await legit.stop(), 200);
    assert.equal(backend.seen.filter((s) => s.path.startsWith('/record/trickle-')).length, 0, 'a trickled small body took an upstream connection');
    // Every response that was never read was cut: what arrived (once read) is short of its length.
    // Bounded wait until each of them has reached the backend, then past the send deadline.
    const bigs = () => backend.seen.filter((x) => x.path.startsWith('/record/big?')).length;
    for (let n = 0; n < 600 && bigs() < readers.length; n++) await pause(20);
    assert.equal(bigs(), readers.length, 'every large response was asked of the backend');
    await pause(2_500);
    for (const s of readers) {
      let got = 0;
      s.on('data', (d: Buffer) => (got += d.length));
      const done = ended(s);
      s.resume();
      await done;
      s.destroy();
      assert.ok(got < 64 * 1024 * 1024, `a response nobody read was sent whole (${mb(got)} MB)`);
    }
  });

  it('stops reading a connection that pipelines requests without reading the answers: memory stays bounded', async () => {
    const legit = traffic('/record/legit');
    const rss = process.memoryUsage().rss;
    const s = await open(port);
    s.pause();
    const size = 256 * 1024;
    const total = 2_000;
    let sent = 0;
    // Bounded: 2,000 requests for 256 KB each (500 MB if all were answered and kept), written in
    // batches while the proxy takes them.
    for (let batch = 0; batch < total / 20 && !s.destroyed; batch++) {
      let bytes = '';
      for (let i = 0; i < 20; i++) bytes += `GET /record/big?bytes=${size}&pipe=${sent++} HTTP/1.1\r\nHost: x\r\n\r\n`;
      if (!s.write(bytes)) await Promise.race([new Promise((r) => s.once('drain', r)), pause(2_000)]);
    }
    // Past the send deadline, then read what came.
    await pause(2_500);
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    const done = ended(s);
    s.resume();
    await done;
    s.destroy();
    const grown = process.memoryUsage().rss - rss;
    const reached = backend.seen.filter((x) => x.path.includes('&pipe=')).length;
    assert.ok(got < total * size, `all ${total} answers came (${mb(got)} MB)`);
    assert.ok(reached < total, `the proxy forwarded all ${reached} pipelined requests`);
    assert.ok(reached <= Math.ceil(got / size) + MAX_PIPELINED + 1, `${reached} forwarded for ${mb(got)} MB answered`);
    assert.ok(grown < 96 * 1024 * 1024, `rss grew ${mb(grown)} MB`);
    assertServed(await legit.stop(), 200);
  });

  it('never reuses a connection an upstream answered early (413, keep-alive) and then closed: other clients see no failure', async () => {
    const legit = traffic('/poison/legit');
    const big = Buffer.alloc(1024 * 1024, 'p');
    for (let i = 0; i < 40; i++) {
      // Chunked and larger than the proxy buffers (streamed, answered mid-way), or small and sent
      // whole with its length (all written before the refusal is read).
      const streamed = i % 2 === 0;
      const status = await new Promise<number>((resolve) => {
        const headers = streamed ? { 'transfer-encoding': 'chunked' } : { 'content-length': '10000' };
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/poison/upload-${i}`, headers, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        if (streamed) for (let off = 0; off < big.length; off += 64 * 1024) req.write(big.subarray(off, off + 64 * 1024));
        req.end(streamed ? undefined : big.subarray(0, 10_000));
      });
      // 502 when the upstream's close (a reset, with the upload unread) overtook its 413.
      assert.ok(status === 413 || status === 502, `upload ${i}: ${status}`);
    }
    assertServed(await legit.stop(), 200);
    assert.equal(reusedAfterRefusal, 0, 'a connection was reused after its upload was refused');
  });


  it('sends an idempotent request again, once, on a fresh connection when a reused one is dropped unanswered', async () => {
    const legit = traffic('/dropper/legit');
    assertServed(await legit.stop(), 200);
    // A POST is not sent again: dropped, it fails with 502.
    const statuses: string[] = [];
    for (let i = 0; i < 6; i++) statuses.push(/^HTTP\/1\.1 (\d{3})/.exec(await exchange(port, `POST /dropper/post-${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`))?.[1] ?? 'none');
    assert.ok(statuses.includes('502'), `no POST was dropped: ${statuses.join(', ')}`);
    assert.ok(statuses.every((s) => s === '200' || s === '502'), statuses.join(', '));
  });

  it('streams a large response through with flat memory', async () => {
    const legit = traffic('/record/legit');
    const size = 256 * 1024 * 1024;
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const got = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: `/record/big?bytes=${size}`, agent: false }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => (n += d.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    clearInterval(sampler);
    assert.equal(got, size);
    assert.ok(peak - base < 64 * 1024 * 1024, `rss peaked ${mb(peak - base)} MB above where it started, for a ${mb(size)} MB response`);
    assertServed(await legit.stop(), 200);
  });
});
