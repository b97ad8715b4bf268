// Unit tests of the upstream pools over real sockets: node:http servers, and raw `net` servers that
// write exact bytes for the framing, reuse and protocol edge cases.
// @see https://www.rfc-editor.org/rfc/rfc9112
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { UpstreamPools } from './upstream-pool.js';
import type { PoolOptions, UpstreamCall, UpstreamHandler } from './upstream-pool.js';
import type { RequestBody } from './request-body.js';

/** Each test's own limit, so that one hang does not cancel its siblings. */
const T = { timeout: 10_000 };
const cleanups: (() => unknown)[] = [];
const probes: Probe[] = [];
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Records one exchange's callbacks; `data` decides what `onData` returns. */
class Probe implements UpstreamHandler {
  call!: UpstreamCall;
  status = 0;
  statusText = '';
  headers: string[] = [];
  chunks: Buffer[] = [];
  heads = 0;
  completes = 0;
  errors: Error[] = [];
  /** Callbacks that came after the exchange had ended. */
  late = 0;
  resume: (() => void) | undefined = undefined;
  accept = true;
  data: (chunk: Buffer, p: Probe) => boolean = () => true;
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor() {
    this.settled = new Promise((r) => (this.settle = r));
    probes.push(this);
  }

  get ended(): boolean {
    return this.completes + this.errors.length > 0;
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.ended) this.late++;
    this.heads++;
    this.status = status;
    this.statusText = statusText;
    this.headers = headers.map((h) => h.toString('latin1'));
    this.resume = resume;
    return this.accept;
  }

  onData(chunk: Buffer): boolean {
    if (this.ended) this.late++;
    this.chunks.push(chunk);
    return this.data(chunk, this);
  }

  onComplete(): void {
    this.completes++;
    this.settle();
  }

  onError(err: Error): void {
    this.errors.push(err);
    this.settle();
  }
}

const codeOf = (err: Error | undefined): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

function assertEndedOnce(p: Probe): void {
  const seen = `onComplete ×${p.completes}, onError ×${p.errors.length} (${p.errors.map(codeOf).join(', ')})`;
  assert.equal(p.completes + p.errors.length, 1, `exactly one of onComplete / onError: ${seen}`);
  assert.equal(p.late, 0, 'no callback after the exchange ended');
}

/** Waits for the exchange to end, gives a second end a turn to show up, and checks there was one. */
async function ended(p: Probe): Promise<Probe> {
  await p.settled;
  await tick();
  assertEndedOnce(p);
  return p;
}

async function completed(p: Probe): Promise<Probe> {
  await ended(p);
  assert.equal(p.errors.length, 0, `completes, not ${codeOf(p.errors[0])}: ${p.errors[0]?.message}`);
  return p;
}

async function failed(p: Probe, ...codes: string[]): Promise<Error> {
  await ended(p);
  assert.equal(p.completes, 0, 'fails, not completes');
  const err = p.errors[0]!;
  assert.ok(codes.includes(codeOf(err)!), `error code ${codeOf(err)} (${err.message}) is one of ${codes.join(', ')}`);
  return err;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await delay(5);
}

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await tick();
  for (const p of probes.splice(0)) assertEndedOnce(p);
});

/** The pools with one endpoint in view. */
interface Pool {
  dispatch(method: string, path: string, headers: string[], body: RequestBody, handler: UpstreamHandler): UpstreamCall;
  /** Open connections to the endpoint. */
  readonly size: number;
  close(): Promise<void>;
}

function pool(port: number, opts: Partial<PoolOptions> = {}): Pool {
  const pools = new UpstreamPools({
    connections: 4,
    queueMs: 60_000,
    idleMs: 10_000,
    keepAliveMs: 10_000,
    connectTimeoutMs: 5_000,
    maxHeaderBytes: 16_384,
    ...opts,
  });
  cleanups.push(() => pools.close());
  return {
    dispatch: (method, path, headers, body, handler) => pools.dispatch('127.0.0.1', port, { method, path, headers, body }, handler),
    get size() {
      return pools.size('127.0.0.1', port);
    },
    close: () => pools.close(),
  };
}

/** A body streamed from `rest` (none of it read ahead). */
const streamed = (rest: Readable): RequestBody => ({ head: [], rest });

function request(p: Pool, method: string, path: string, headers: string[] = [], body: RequestBody = null): Probe {
  const probe = new Probe();
  probe.call = p.dispatch(method, path, ['host', 'upstream.test', ...headers], body, probe);
  return probe;
}

const get = (p: Pool, path = '/', headers: string[] = []): Probe => request(p, 'GET', path, headers);

/** A complete response with a Content-Length. */
const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** One server-side connection of a raw server: the test reads request heads and writes exact bytes. */
class RawConn {
  readonly socket: Socket;
  /** Every byte received. */
  received = Buffer.alloc(0);
  private unread = Buffer.alloc(0);
  private eof = false;
  private wake: (() => void) | undefined = undefined;
  readonly closed: Promise<void>;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.unread = Buffer.concat([this.unread, d]);
      this.poke();
    });
    socket.on('end', () => {
      this.eof = true;
      this.poke();
    });
    socket.on('error', () => {});
    this.closed = once(socket, 'close').then(() => undefined);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next request head (through its blank line). */
  async head(): Promise<string> {
    for (;;) {
      const i = this.unread.indexOf('\r\n\r\n');
      if (i >= 0) {
        const head = this.unread.subarray(0, i + 4).toString('latin1');
        this.unread = this.unread.subarray(i + 4);
        return head;
      }
      if (this.eof) throw new Error('the connection ended before a request head');
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Writes one byte per event-loop turn. */
  async trickle(bytes: string): Promise<void> {
    this.socket.setNoDelay(true);
    for (const b of Buffer.from(bytes, 'latin1')) {
      this.socket.write(Buffer.of(b));
      await delay(1);
    }
  }
}

interface RawServer {
  port: number;
  conns: RawConn[];
  /** The i-th connection accepted (from 0), once it is. */
  conn(i: number): Promise<RawConn>;
}

async function rawServer(): Promise<RawServer> {
  const conns: RawConn[] = [];
  const server = createNetServer((s) => conns.push(new RawConn(s)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const c of conns) c.socket.destroy();
    return new Promise((r) => server.close(r));
  });
  return {
    port: (server.address() as AddressInfo).port,
    conns,
    async conn(i) {
      while (conns.length <= i) await once(server, 'connection');
      return conns[i]!;
    },
  };
}

/** A raw server, a pool, and a GET of `path` whose head the server's first connection has read. */
async function firstRequest(opts: Partial<PoolOptions> = {}, path = '/'): Promise<{ srv: RawServer; p: Pool; a: Probe; c: RawConn }> {
  const srv = await rawServer();
  const p = pool(srv.port, opts);
  const a = get(p, path);
  const c = await srv.conn(0);
  await c.head();
  return { srv, p, a, c };
}

/** A raw server and a pool whose one connection has finished one exchange and is kept alive. */
async function keptAlive(): Promise<{ srv: RawServer; p: Pool; c: RawConn }> {
  const { srv, p, a, c } = await firstRequest({}, '/1');
  c.write(ok('one'));
  await completed(a);
  return { srv, p, c };
}

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

function* slices(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('UpstreamPools: connections', () => {
  it('reuses one keep-alive connection for sequential requests', T, async () => {
    const srv = await httpServer((req, res) => res.end(`at ${req.url}`));
    const p = pool(srv.port);
    const a = await completed(get(p, '/a'));
    const b = await completed(get(p, '/b'));
    assert.equal(a.body.toString(), 'at /a');
    assert.equal(b.body.toString(), 'at /b');
    assert.equal(p.size, 1);
    assert.equal(srv.connections(), 1);
  });

  it('queues requests beyond `connections` and runs them as connections free up', T, async () => {
    const held: ServerResponse[] = [];
    const srv = await httpServer((req, res) => held.push(res));
    const p = pool(srv.port, { connections: 2 });
    const [a, b, c] = [get(p, '/a'), get(p, '/b'), get(p, '/c')];
    await until(() => held.length === 2);
    assert.equal(p.size, 2);
    assert.equal(c.heads, 0);
    held[0]!.end('first');
    await completed(a);
    await until(() => held.length === 3);
    held[1]!.end('second');
    held[2]!.end('third');
    await completed(b);
    await completed(c);
    assert.equal(c.body.toString(), 'third');
    assert.equal(srv.connections(), 2);
    assert.equal(p.size, 2);
  });

  it('fails a request that waited in the queue past queueMs, and the queue moves on without it', T, async () => {
    const held: ServerResponse[] = [];
    const srv = await httpServer((req, res) => held.push(res));
    const p = pool(srv.port, { connections: 1, queueMs: 100 });
    const a = get(p, '/a');
    await until(() => held.length === 1);
    const [b, c] = [get(p, '/b'), get(p, '/c')];
    await failed(b, 'UPSTREAM_QUEUE_TIMEOUT');
    await failed(c, 'UPSTREAM_QUEUE_TIMEOUT');
    held[0]!.end('first');
    await completed(a);
    const d = get(p, '/d');
    await until(() => held.length === 2);
    held[1]!.end('fourth');
    await completed(d);
    assert.equal(d.body.toString(), 'fourth');
    assert.equal(held.length, 2, 'a request that timed out in the queue was sent anyway');
    assert.equal(b.heads + c.heads, 0);
  });

  it('hands on intact bodies read on many connections at once, kept by reference as a slow client would', T, async () => {
    // Every upstream socket reads into one shared buffer: what the handler keeps must be its own copy.
    const bodies = Array.from({ length: 24 }, (_, i) => randomBytes(100_000 + i * 997));
    const srv = await httpServer((req, res) => {
      const body = bodies[Number(req.url!.slice(1))]!;
      res.setHeader('content-length', body.length);
      // In pieces, so that reads of different connections interleave.
      let off = 0;
      const next = () => {
        if (off >= body.length) return void res.end();
        res.write(body.subarray(off, (off += 7_001)), next);
      };
      next();
    });
    const p = pool(srv.port, { connections: 24 });
    const probes = bodies.map((_, i) => get(p, `/${i}`));
    await Promise.all(probes.map((x) => completed(x)));
    for (const [i, x] of probes.entries()) assert.equal(sha256(x.body), sha256(bodies[i]!), `body ${i}`);
    assert.ok(srv.connections() > 1);
  });

  it('takes the most recently released idle connection first', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port, { connections: 2 });
    const a = get(p, '/a');
    const b = get(p, '/b');
    const [c0, c1] = [await srv.conn(0), await srv.conn(1)];
    await Promise.all([c0.head(), c1.head()]);
    c0.write(ok('a'));
    await completed(a);
    c1.write(ok('b'));
    await completed(b);
    const next = get(p, '/next');
    assert.match(await c1.head(), /^GET \/next HTTP\/1\.1\r\n/);
    c1.write(ok('next'));
    await completed(next);
    assert.equal(srv.conns.length, 2);
  });

  it('closes an idle keep-alive connection after keepAliveMs', T, async () => {
    const { p, a, c } = await firstRequest({ keepAliveMs: 300, idleMs: 60_000 });
    c.write(ok('a'));
    await completed(a);
    assert.equal(p.size, 1);
    await c.closed;
    await until(() => p.size === 0);
  });
});

describe('UpstreamPools: response framing (RFC 9112 §6)', () => {
  it('reads a body delimited by Content-Length and keeps the connection', T, async () => {
    const { p, a, c } = await firstRequest();
    c.write('HTTP/1.1 201 Made Here\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello');
    await completed(a);
    assert.equal(a.status, 201);
    assert.equal(a.statusText, 'Made Here');
    assert.deepEqual(a.headers, ['Content-Length', '5', 'X-A', '1']);
    assert.equal(a.body.toString(), 'hello');
    assert.equal(p.size, 1);
  });

  it('reads a chunked body with chunk extensions and trailers, then reuses the connection', T, async () => {
    const { srv, p, a, c } = await firstRequest();
    c.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6;a="b c"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n');
    await completed(a);
    assert.equal(a.body.toString(), 'hello world');
    assert.deepEqual(a.headers, ['Transfer-Encoding', 'chunked']);
    const b = get(p);
    await c.head();
    c.write(ok('again'));
    await completed(b);
    assert.equal(b.body.toString(), 'again');
    assert.deepEqual(b.headers, ['Content-Length', '5'], "no trailer of the previous response");
    assert.equal(srv.conns.length, 1);
  });

  it('reads a body without a length until the connection closes', T, async () => {
    const { p, a, c } = await firstRequest();
    c.write('HTTP/1.1 200 OK\r\n\r\nuntil the ');
    await until(() => a.chunks.length > 0);
    c.write('end');
    c.socket.end();
    await completed(a);
    assert.equal(a.body.toString(), 'until the end');
    await until(() => p.size === 0);
  });

  it('expects no body after a HEAD response that carries a Content-Length, and closes that connection', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const a = request(p, 'HEAD', '/');
    const c = await srv.conn(0);
    // undici asks for the close itself: a server that sends a body after all cannot poison the next exchange.
    assert.match(await c.head(), /\r\nconnection: close\r\n/);
    c.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
    await completed(a);
    assert.equal(a.body.length, 0);
    await c.closed;
    const b = get(p);
    const c1 = await srv.conn(1);
    await c1.head();
    c1.write(ok('body'));
    await completed(b);
    assert.equal(b.body.toString(), 'body');
  });

  it('expects no body after 204 and 304, and keeps the connection', T, async () => {
    const { srv, p, a, c } = await firstRequest();
    c.write('HTTP/1.1 204 No Content\r\n\r\n');
    await completed(a);
    const b = get(p);
    await c.head();
    c.write('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n');
    await completed(b);
    const d = get(p);
    await c.head();
    c.write(ok('after'));
    await completed(d);
    assert.deepEqual([a.status, b.status, d.status], [204, 304, 200]);
    assert.deepEqual([a.body.length, b.body.length, d.body.toString()], [0, 0, 'after']);
    assert.equal(srv.conns.length, 1);
  });

  it("completes a 304 that carries its representation's Content-Length (RFC 9110 §8.6)", T, async () => {
    const { srv, p, a, c } = await firstRequest();
    c.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: "x"\r\n\r\n');
    await completed(a);
    assert.equal(a.status, 304);
    assert.equal(a.body.length, 0);
    assert.deepEqual(a.headers, ['Content-Length', '50', 'ETag', '"x"']);
    // undici counts the missing 50 bytes against the connection: it is closed, never reused.
    await c.closed;
    const b = get(p);
    const c1 = await srv.conn(1);
    await c1.head();
    c1.write(ok('after'));
    await completed(b);
  });

  it('consumes 103 Early Hints and hands on only the final response', T, async () => {
    const { p, a, c } = await firstRequest();
    c.write('HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n');
    await delay(10);
    c.write(ok('final'));
    await completed(a);
    assert.equal(a.heads, 1);
    assert.equal(a.status, 200);
    assert.deepEqual(a.headers, ['Content-Length', '5']);
    assert.equal(a.body.toString(), 'final');
    assert.equal(p.size, 1);
  });

  it('fails a 100 Continue the request did not ask for, and closes the connection', T, async () => {
    // The proxy never forwards Expect (node's server answers it): undici refuses an unasked-for 100.
    const { p, a, c } = await firstRequest();
    c.write('HTTP/1.1 100 Continue\r\n\r\n' + ok('final'));
    await failed(a, 'UND_ERR_SOCKET');
    assert.equal(a.heads, 0);
    await c.closed;
    await until(() => p.size === 0);
  });

  it('parses a response written one byte at a time, more than 32 header lines and trailers included', T, async () => {
    const { p, a, c } = await firstRequest();
    const names = Array.from({ length: 40 }, (_, i) => `X-H${i}`);
    const head = `HTTP/1.1 200 OK\r\n${names.map((n, i) => `${n}: v${i}\r\n`).join('')}Transfer-Encoding: chunked\r\n\r\n`;
    await c.trickle(`${head}3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n`);
    await completed(a);
    const expected = names.flatMap((n, i) => [n, `v${i}`]).concat(['Transfer-Encoding', 'chunked']);
    assert.deepEqual(a.headers, expected);
    assert.equal(a.body.toString(), 'abcde');
    const b = get(p);
    await c.head();
    await c.trickle(ok('one more'));
    await completed(b);
    assert.deepEqual(b.headers, ['Content-Length', '8'], 'no trailer of the previous response');
    assert.equal(b.body.toString(), 'one more');
  });

  it('fails a response head larger than maxHeaderBytes and closes the connection', T, async () => {
    const { p, a, c } = await firstRequest({ maxHeaderBytes: 1024 });
    c.write(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(2048)}\r\nContent-Length: 0\r\n\r\n`);
    await failed(a, 'UND_ERR_HEADERS_OVERFLOW');
    await c.closed;
    await until(() => p.size === 0);
  });

  // undici refuses conflicting lengths itself (it counts a repeated Content-Length as one longer value).
  for (const [what, response, refusal] of [
    ['a duplicate Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n', 'HTTPParserError'],
    ['a bare line feed', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok', 'HTTPParserError'],
  ] as const) {
    it(`fails ${what}, closes the connection and opens a fresh one for the next request`, T, async () => {
      const srv = await rawServer();
      const p = pool(srv.port);
      const a = get(p);
      const c = await srv.conn(0);
      await c.head();
      c.write(response);
      await ended(a);
      assert.equal(a.completes, 0);
      const err = a.errors[0]!;
      assert.ok(codeOf(err) === refusal || err.name === refusal, `${err.name} ${codeOf(err)}: ${err.message}`);
      await c.closed;
      await until(() => p.size === 0);
      const b = get(p);
      const c1 = await srv.conn(1);
      await c1.head();
      c1.write(ok('fresh'));
      await completed(b);
      assert.equal(b.body.toString(), 'fresh');
    });
  }

  for (const [framing, response] of [
    ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello'],
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
  ] as const) {
    it(`fails a ${framing} body cut short by the upstream`, T, async () => {
      const srv = await rawServer();
      const p = pool(srv.port);
      const a = get(p);
      const c = await srv.conn(0);
      await c.head();
      c.write(response);
      await until(() => a.chunks.length > 0);
      c.socket.end();
      await failed(a, 'UND_ERR_SOCKET');
      assert.equal(a.body.toString(), 'hello');
      await until(() => p.size === 0);
    });
  }
});

describe('UpstreamPools: request framing', () => {
  it('sends the head as given (undici states keep-alive and the length itself) and the body as its raw bytes', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const payload = [Buffer.from('ab'), Buffer.from([0, 13, 10, 255]), Buffer.from('z')];
    const a = request(p, 'PUT', '/up?q=1', ['Content-Length', '7', 'X-Multi', 'a, b'], streamed(Readable.from(payload)));
    const wire = Buffer.concat([
      Buffer.from('PUT /up?q=1 HTTP/1.1\r\nhost: upstream.test\r\nconnection: keep-alive\r\nX-Multi: a, b\r\ncontent-length: 7\r\n\r\n', 'latin1'),
      ...payload,
    ]);
    const c = await srv.conn(0);
    await until(() => c.received.length >= wire.length);
    c.write(ok('stored'));
    await completed(a);
    assert.deepEqual(c.received, wire);
  });

  it('sends a body of unknown length chunked, skipping empty chunks, and a node server reads it intact', T, async () => {
    const seen: { te: string | undefined; body: string }[] = [];
    const srv = await httpServer(async (req, res) => {
      const parts: Buffer[] = [];
      for await (const d of req) parts.push(d as Buffer);
      seen.push({ te: req.headers['transfer-encoding'], body: Buffer.concat(parts).toString() });
      res.end('thanks');
    });
    const p = pool(srv.port);
    const a = request(p, 'POST', '/in', [], streamed(Readable.from([Buffer.from('one '), Buffer.alloc(0), Buffer.from('two')])));
    await completed(a);
    const b = request(p, 'POST', '/in', [], streamed(Readable.from([])));
    await completed(b);
    assert.deepEqual(seen, [
      { te: 'chunked', body: 'one two' },
      // undici reads an empty stream to its end before writing: it is sent as an empty body.
      { te: undefined, body: '' },
    ]);
    assert.equal(srv.connections(), 1);
  });

  for (const framing of ['chunked', 'Content-Length'] as const) {
    it(`streams a 16 MB ${framing} body up and back with backpressure both ways, byte-exact`, { timeout: 60_000 }, async () => {
      const srv = await httpServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
      });
      const p = pool(srv.port);
      const data = randomBytes(16 * 1024 * 1024);
      const body = Readable.from(slices(data, 64 * 1024));
      let uploadPauses = 0;
      body.on('pause', () => uploadPauses++);
      let uploadDone = false;
      body.on('end', () => (uploadDone = true));
      let n = 0;
      let downloadPauses = 0;
      const headers = framing === 'chunked' ? [] : ['content-length', String(data.length)];
      const a = request(p, 'POST', '/echo', headers, streamed(body));
      a.data = (_chunk, probe) => {
        n++;
        if (n === 1) {
          // Hold the download until the upload has had to wait for the upstream.
          downloadPauses++;
          void until(() => uploadPauses > 0 || uploadDone).then(() => probe.resume!());
          return false;
        }
        if (n % 8 === 0) {
          downloadPauses++;
          setImmediate(() => probe.resume!());
          return false;
        }
        return true;
      };
      await completed(a);
      assert.equal(a.status, 200);
      assert.equal(a.body.length, data.length);
      assert.equal(sha256(a.body), sha256(data));
      assert.ok(uploadPauses > 0, 'the upload waited for the socket to drain');
      assert.ok(downloadPauses > 1);
      // Answered before the request was all sent: whether the upstream read it all is unknown, so
      // the connection is not reused.
      await until(() => p.size === 0);
    });
  }

  it('never reuses a connection whose response began before the request was all sent, though it ends after', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const rest = new Readable({ read() {} });
    const a = request(p, 'POST', '/early', [], { head: [Buffer.from('first')], rest });
    const c = await srv.conn(0);
    await c.head();
    c.write('HTTP/1.1 413 Content Too Large\r\nContent-Length: 5\r\n\r\n');
    await until(() => a.heads === 1);
    rest.push(Buffer.from('second'));
    rest.push(null);
    await until(() => c.received.toString('latin1').endsWith('0\r\n\r\n'));
    c.write('nope!');
    await completed(a);
    assert.equal(a.status, 413);
    await c.closed;
    await until(() => p.size === 0);
    const b = get(p, '/after');
    const c1 = await srv.conn(1);
    assert.match(await c1.head(), /^GET \/after /);
    c1.write(ok('fresh'));
    await completed(b);
  });

  it('never reuses a connection after a refusal of a request with a body, though the body was all sent', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const a = request(p, 'PUT', '/secret', [], Buffer.from('unread'));
    const c = await srv.conn(0);
    await c.head();
    c.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
    await completed(a);
    assert.equal(a.status, 401);
    await c.closed;
    await until(() => p.size === 0);
    const b = request(p, 'PUT', '/secret', [], Buffer.from('again'));
    const c1 = await srv.conn(1);
    await c1.head();
    c1.write(ok('stored'));
    await completed(b);
  });

  it('fails the exchange when the client body is cut short, and never lets the upstream see it end', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const rest = new Readable({ read() {} });
    const a = request(p, 'POST', '/cut', [], { head: [Buffer.from('first ')], rest });
    const c = await srv.conn(0);
    await c.head();
    rest.push(Buffer.from('second'));
    await until(() => c.received.toString('latin1').includes('second'));
    rest.destroy();
    await failed(a, 'CLIENT_ABORTED');
    await c.closed;
    const wire = c.received.toString('latin1');
    assert.match(wire, /transfer-encoding: chunked\r\n/);
    assert.ok(!wire.endsWith('0\r\n\r\n'), `no last chunk: ${JSON.stringify(wire.slice(-40))}`);
    await until(() => p.size === 0);
  });

  it('ends the exchange on an early response and never reuses that connection', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const data = Buffer.alloc(16 * 1024 * 1024, 'x');
    const body = Readable.from(slices(data, 64 * 1024));
    cleanups.push(() => body.destroy());
    const a = request(p, 'POST', '/big', ['content-length', String(data.length)], streamed(body));
    const c = await srv.conn(0);
    await c.head();
    c.socket.pause();
    c.write('HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n');
    await completed(a);
    assert.equal(a.status, 413);
    await until(() => p.size === 0);
    c.socket.resume();
    await c.closed;
    assert.ok(c.received.length < data.length, 'the body was not all sent');
    const b = get(p, '/after');
    const c1 = await srv.conn(1);
    assert.match(await c1.head(), /^GET \/after /);
    c1.write(ok('fresh'));
    await completed(b);
  });
});

describe('UpstreamPools: safety', () => {
  it('refuses a line break or NUL in a header value or the path and writes nothing', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const bad = [
      get(p, '/', ['x-evil', 'v\r\nx-injected: 1']),
      get(p, '/', ['x-evil', 'v\nx']),
      get(p, '/', ['x-evil', 'v\0x']),
      get(p, '/a HTTP/1.1\r\nx-injected: 1\r\n\r\nGET /b'),
      get(p, '/a\rb'),
    ];
    for (const b of bad) await failed(b, 'UND_ERR_INVALID_ARG');
    const good = get(p, '/ok');
    const c = await srv.conn(0);
    await c.head();
    c.write(ok('fine'));
    await completed(good);
    assert.equal(c.received.toString('latin1'), 'GET /ok HTTP/1.1\r\nhost: upstream.test\r\nconnection: keep-alive\r\n\r\n');
    assert.equal(srv.conns.length, 1);
  });

  it('closes a connection on bytes sent between exchanges and never hands them to the next', T, async () => {
    const { srv, p, c } = await keptAlive();
    c.write(ok('smuggled'));
    await c.closed;
    assert.equal(p.size, 0);
    const b = get(p, '/2');
    const c1 = await srv.conn(1);
    await c1.head();
    c1.write(ok('two'));
    await completed(b);
    assert.equal(b.body.toString(), 'two');
  });

  it('closes a connection that answers one request twice; the queued request gets its own answer', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port, { connections: 1 });
    const a = get(p, '/1');
    const b = get(p, '/2');
    const c = await srv.conn(0);
    await c.head();
    c.write(ok('one') + ok('smuggled'));
    await completed(a);
    assert.equal(a.body.toString(), 'one');
    const c1 = await srv.conn(1);
    assert.match(await c1.head(), /^GET \/2 /);
    c1.write(ok('two'));
    await completed(b);
    assert.equal(b.body.toString(), 'two');
    await c.closed;
    assert.equal(c.received.toString('latin1').split('GET ').length, 2, 'one request on the first connection');
  });

  for (const [what, response, after] of [
    ['with Upgrade and Connection: upgrade', 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', ''],
    ['without Upgrade fields', `HTTP/1.1 101 Switching Protocols\r\n\r\n${ok('smuggled')}`, ''],
    ['followed by a response in the new protocol', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', ok('smuggled')],
  ] as const) {
    it(`fails an unrequested 101 ${what}, never handing on what follows (RFC 9110 §7.8)`, T, async () => {
      const srv = await rawServer();
      const p = pool(srv.port, { idleMs: 2_000 });
      const a = get(p);
      const c = await srv.conn(0);
      await c.head();
      c.write(response);
      if (after) {
        await delay(20);
        c.write(after);
      }
      // undici refuses it as a bad upgrade, or trips its own assertion that a 101 is an upgrade.
      await failed(a, 'UND_ERR_SOCKET', 'ERR_ASSERTION');
      assert.equal(a.heads, 0);
      await c.closed;
      await until(() => p.size === 0);
    });
  }
});

/** A listening port whose process never accepts, with its accept queue full: connecting hangs. */
async function unacceptingPort(): Promise<number> {
  const code =
    "const s = require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {" +
    " process.stdout.write(s.address().port + '\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const fillers: Socket[] = [];
  let established = 0;
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1', () => established++);
    s.on('error', () => {});
    fillers.push(s);
  }
  cleanups.push(() => fillers.forEach((s) => s.destroy()));
  await until(() => established >= 2);
  return port;
}

describe('UpstreamPools: failures', () => {
  it('fails with ECONNREFUSED when nothing listens', T, async () => {
    const server = createNetServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    const p = pool(port);
    await failed(get(p), 'ECONNREFUSED');
    assert.equal(p.size, 0);
  });

  it('fails with UND_ERR_CONNECT_TIMEOUT when the connection is never established', T, async () => {
    const port = await unacceptingPort();
    const p = pool(port, { connectTimeoutMs: 100 });
    await failed(get(p), 'UND_ERR_CONNECT_TIMEOUT');
    assert.equal(p.size, 0);
  });

  it('fails with UND_ERR_HEADERS_TIMEOUT when no response head comes', T, async () => {
    const { a, c } = await firstRequest({ idleMs: 50 });
    await failed(a, 'UND_ERR_HEADERS_TIMEOUT');
    await c.closed;
  });

  it('fails with UND_ERR_BODY_TIMEOUT when the body stalls', T, async () => {
    const { a, c } = await firstRequest({ idleMs: 50 });
    c.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    await failed(a, 'UND_ERR_BODY_TIMEOUT');
    assert.equal(a.body.toString(), 'abc');
    await c.closed;
  });

  it('does not time out a paused response and finishes it on resume', T, async () => {
    const { p, a, c } = await firstRequest({ idleMs: 100 });
    a.data = () => false;
    c.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\na');
    await until(() => a.chunks.length === 1);
    c.write('bcdefghij');
    await delay(400);
    assert.equal(a.ended, false, 'still paused, not timed out');
    assert.equal(a.body.toString(), 'a');
    a.data = () => true;
    a.resume!();
    await completed(a);
    assert.equal(a.body.toString(), 'abcdefghij');
    assert.equal(p.size, 1);
  });

  it('times out a resumed response that then stalls', T, async () => {
    const { a, c } = await firstRequest({ idleMs: 100 });
    a.data = () => false;
    c.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\na');
    await until(() => a.chunks.length === 1);
    await delay(400);
    a.data = () => true;
    a.resume!();
    await failed(a, 'UND_ERR_BODY_TIMEOUT');
    assert.equal(a.body.toString(), 'a');
  });

  it('abort() mid-response closes the connection and ends the exchange once', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const a = get(p);
    a.data = (_chunk, probe) => {
      probe.call.abort();
      probe.call.abort();
      return true;
    };
    const c = await srv.conn(0);
    await c.head();
    c.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    await failed(a, 'UPSTREAM_ABORTED');
    await c.closed;
    assert.equal(p.size, 0);

    const b = get(p);
    const c1 = await srv.conn(1);
    await c1.head();
    c1.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    await until(() => b.chunks.length > 0);
    const reason = Object.assign(new Error('client went away'), { code: 'CLIENT_GONE' });
    b.call.abort(reason);
    assert.equal(await failed(b, 'CLIENT_GONE'), reason);
    await c1.closed;
  });

  it('abort() after the exchange completed changes nothing', T, async () => {
    const srv = await httpServer((_req, res) => res.end('done'));
    const p = pool(srv.port);
    const a = await completed(get(p));
    a.call.abort();
    await ended(a);
    await completed(get(p));
    assert.equal(srv.connections(), 1);
  });

  it('ends the exchange when onHeaders declines it, and closes the connection', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port);
    const a = get(p);
    a.accept = false;
    const c = await srv.conn(0);
    await c.head();
    c.write(ok('unwanted'));
    await failed(a, 'UPSTREAM_ABORTED');
    assert.equal(a.chunks.length, 0);
    await c.closed;
  });

  it('abort() of a queued exchange removes it from the queue', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port, { connections: 1 });
    const a = get(p, '/a');
    const b = get(p, '/b');
    const c = await srv.conn(0);
    await c.head();
    b.call.abort();
    await failed(b, 'UPSTREAM_ABORTED');
    c.write(ok('a'));
    await completed(a);
    const d = get(p, '/d');
    assert.match(await c.head(), /^GET \/d /, 'the aborted request was never sent');
    c.write(ok('d'));
    await completed(d);
  });

  it('replays a GET once on a fresh connection when a reused one closes before answering', T, async () => {
    const { srv, p, c } = await keptAlive();
    const b = get(p, '/2');
    await c.head();
    c.socket.destroy();
    const c1 = await srv.conn(1);
    assert.match(await c1.head(), /^GET \/2 /);
    c1.write(ok('two'));
    await completed(b);
    assert.equal(b.body.toString(), 'two');
    assert.equal(b.heads, 1);
  });

  it('replays only once: the fresh connection closing too fails the GET', T, async () => {
    const { srv, p, c } = await keptAlive();
    const b = get(p, '/2');
    await c.head();
    c.socket.destroy();
    const c1 = await srv.conn(1);
    await c1.head();
    c1.socket.destroy();
    await failed(b, 'UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE');
    assert.equal(srv.conns.length, 2);
  });

  it('replays a PUT whose body is held whole, with that body, on a fresh connection', T, async () => {
    const { srv, p, c } = await keptAlive();
    const b = request(p, 'PUT', '/2', [], Buffer.from('the body'));
    await c.head();
    c.socket.destroy();
    const c1 = await srv.conn(1);
    assert.match(await c1.head(), /^PUT \/2 [^]*\r\ncontent-length: 8\r\n/);
    await until(() => c1.received.toString('latin1').endsWith('the body'));
    c1.write(ok('stored'));
    await completed(b);
    assert.equal(b.body.toString(), 'stored');
  });

  it('does not replay a PUT whose body streams', T, async () => {
    const { srv, p, c } = await keptAlive();
    const b = request(p, 'PUT', '/2', ['content-length', '4'], streamed(Readable.from([Buffer.from('data')])));
    await c.head();
    c.socket.destroy();
    await failed(b, 'UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE');
    assert.equal(srv.conns.length, 1);
  });

  it('does not replay a POST with a body', T, async () => {
    const { srv, p, c } = await keptAlive();
    const b = request(p, 'POST', '/2', ['content-length', '4'], streamed(Readable.from([Buffer.from('data')])));
    await c.head();
    c.socket.destroy();
    await failed(b, 'UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE');
    assert.equal(srv.conns.length, 1);
  });

  it('does not replay a request the upstream had begun to answer', T, async () => {
    const { srv, p, c } = await keptAlive();
    const b = get(p, '/2');
    await c.head();
    c.write('HTTP/1.1 200 OK\r\n');
    await delay(10);
    c.socket.destroy();
    await failed(b, 'UND_ERR_SOCKET', 'ECONNRESET');
    assert.equal(srv.conns.length, 1);
  });

  it('close() fails queued and in-flight exchanges and later dispatches', T, async () => {
    const srv = await rawServer();
    const p = pool(srv.port, { connections: 1 });
    const a = get(p, '/a');
    const b = get(p, '/b');
    const c = await srv.conn(0);
    await c.head();
    await p.close();
    await failed(a, 'UPSTREAM_POOL_CLOSED');
    await failed(b, 'UPSTREAM_POOL_CLOSED');
    await c.closed;
    assert.equal(p.size, 0);
    await failed(get(p, '/late'), 'UPSTREAM_POOL_CLOSED');
    assert.equal(srv.conns.length, 1);
  });
});
