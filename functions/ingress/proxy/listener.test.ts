// The proxy's listeners (node's http server as ./listener.ts sets it up, ./connection.ts answering
// requests in order) on a real socket, driven by raw clients that write exact bytes.
// @see https://www.rfc-editor.org/rfc/rfc9112
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createListener } from './listener.js';
import type { ServerLimits, UpgradeHandler } from './listener.js';
import type { ClientConnection } from './connection.js';
import { MAX_PIPELINED } from './connection.js';

type Handler = (req: IncomingMessage, res: ServerResponse, conn: ClientConnection) => void;

const DEFAULTS: ServerLimits = { maxHeaderBytes: 16_384, headersTimeoutMs: 60_000, requestTimeoutMs: 120_000, keepAliveTimeoutMs: 60_000 };
/** Guards against a hang only; no test asserts on time. */
const GUARD = { timeout: 60_000 };

interface Harness {
  port: number;
  /** Connections the listener accepted. */
  accepted: number;
  /** Connections still open. */
  readonly open: number;
  /** Graceful close: idle connections now, busy ones after their exchange. */
  close(): Promise<void>;
}

/** A listener server as server.ts sets it up, with a test handler, closed when the test ends. */
async function serve(t: TestContext, onRequest: Handler, opts: Partial<ServerLimits> = {}, onUpgrade?: UpgradeHandler): Promise<Harness> {
  const listener = createListener({ ...DEFAULTS, ...opts }, onRequest, onUpgrade ?? ((_req, socket) => socket.destroy()));
  const server = listener.server;
  // Sockets handed away (upgrades) are the test's; they are cut at the end like the rest.
  const sockets = new Set<Socket>();
  let accepted = 0;
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => listener.close();
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    close,
  };
}

/** A client socket that keeps every byte it receives and can wait for a condition on them. */
class RawClient {
  readonly socket: Socket;
  private chunks: Buffer[] = [];
  private joined: Buffer | undefined = Buffer.alloc(0);
  ended = false;
  closed = false;
  error: Error | undefined = undefined;
  private waiters = new Set<() => void>();

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.joined = undefined;
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  get data(): Buffer {
    this.joined ??= Buffer.concat(this.chunks);
    this.chunks = [this.joined];
    return this.joined;
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `pred` holds; rejects when the connection closes first. */
  until(pred: () => boolean, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok: boolean;
        try {
          ok = pred();
        } catch (err) {
          this.waiters.delete(check);
          return reject(err as Error);
        }
        if (ok) {
          this.waiters.delete(check);
          resolve();
        } else if (this.closed) {
          this.waiters.delete(check);
          reject(new Error(`connection closed before ${what}; received: ${JSON.stringify(this.text.slice(0, 500))}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves when the server has closed its side (EOF or close). */
  untilEnd(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.ended || this.closed) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the first `n` final responses (1xx are kept in the list too) once they are complete. */
  async responses(n: number, methods: string[] = []): Promise<ParsedResponse[]> {
    let out: ParsedResponse[] = [];
    const finals = () => out.filter((r) => r.status >= 200).length;
    await this.until(() => {
      out = parseResponses(this.data, methods, this.ended || this.closed).responses;
      return finals() >= n;
    }, `${n} responses`);
    return out;
  }
}

interface ParsedResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
  /** How the body was framed on the wire. */
  framing: 'none' | 'length' | 'chunked' | 'close';
}

const header = (r: ParsedResponse, name: string): string[] => r.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
const one = (r: ParsedResponse, name: string): string | undefined => {
  const v = header(r, name);
  assert.ok(v.length <= 1, `${name} sent ${v.length} times`);
  return v[0];
};

/**
 * Splits a byte stream into responses, strictly: a malformed chunk or status line throws. `methods`
 * are the requests' methods in order (HEAD answers carry no body); `eof` lets a close-delimited body end.
 */
function parseResponses(buf: Buffer, methods: string[], eof: boolean): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let at = 0;
  let finals = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) break;
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0]!);
    assert.ok(m, `bad status line ${JSON.stringify(lines[0])}`);
    const headers = lines.slice(1).map((l): [string, string] => {
      const c = l.indexOf(':');
      assert.ok(c > 0, `bad header line ${JSON.stringify(l)}`);
      return [l.slice(0, c), l.slice(c + 1).trim()];
    });
    const r: ParsedResponse = { status: Number(m[1]), reason: m[2]!, headers, body: Buffer.alloc(0), framing: 'none' };
    let p = end + 4;
    if (r.status < 200) {
      responses.push(r);
      at = p;
      continue;
    }
    const method = methods[finals] ?? 'GET';
    const te = header(r, 'transfer-encoding')[0];
    const cl = header(r, 'content-length')[0];
    if (method === 'HEAD' || r.status === 204 || r.status === 304) {
      r.framing = 'none';
    } else if (te !== undefined) {
      assert.equal(te, 'chunked');
      r.framing = 'chunked';
      const parts: Buffer[] = [];
      let done = false;
      for (;;) {
        const eol = buf.indexOf('\r\n', p, 'latin1');
        if (eol < 0) break;
        const sizeLine = buf.subarray(p, eol).toString('latin1');
        assert.match(sizeLine, /^[0-9a-f]+$/, 'chunk size line');
        const size = parseInt(sizeLine, 16);
        if (size === 0) {
          if (buf.length < eol + 4) break;
          assert.equal(buf.subarray(eol + 2, eol + 4).toString('latin1'), '\r\n', 'last chunk ends with an empty line');
          p = eol + 4;
          done = true;
          break;
        }
        assert.ok(size > 0, 'a data chunk is never empty');
        if (buf.length < eol + 2 + size + 2) break;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        assert.equal(buf.subarray(eol + 2 + size, eol + 4 + size).toString('latin1'), '\r\n', 'chunk data ends with CRLF');
        p = eol + 4 + size;
      }
      if (!done) break;
      r.body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      r.framing = 'length';
      const n = Number(cl);
      if (buf.length < p + n) break;
      r.body = buf.subarray(p, p + n);
      p += n;
    } else {
      if (!eof) break;
      r.framing = 'close';
      r.body = buf.subarray(p);
      p = buf.length;
    }
    responses.push(r);
    finals++;
    at = p;
  }
  return { responses, rest: buf.subarray(at) };
}

/** Answers with a known length. */
function send(res: ServerResponse, status: number, body: string | Buffer, extra: string[] = []): void {
  res.writeHead(status, ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body)), ...extra]);
  res.end(body);
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Resolves once `check` holds, polling each turn of the event loop. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise<void>((r) => setImmediate(r));
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tick = () => new Promise<void>((r) => setImmediate(r));
const get = (path = '/', extra = '') => `GET ${path} HTTP/1.1\r\nHost: a.test\r\n${extra}\r\n`;

/** A promise with its resolver, for handlers that wait on the test. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}


describe('listener responses (RFC 9112 §6)', GUARD, () => {
  it('answers a GET with content-length, the head and body in order, a Date header, and keeps the connection', async (t) => {
    const h = await serve(t, (req, res) => send(res, 200, `hi ${req.url}`));
    const c = await RawClient.open(h.port);
    c.write(get('/x'));
    const [r] = await c.responses(1);
    assert.equal(r!.status, 200);
    assert.equal(r!.reason, 'OK');
    assert.equal(r!.framing, 'length');
    assert.equal(one(r!, 'content-length'), '5');
    assert.equal(r!.body.toString(), 'hi /x');
    const date = one(r!, 'date');
    assert.ok(date && new Date(date).toUTCString() === date, `an IMF-fixdate: ${date}`);
    assert.notEqual(one(r!, 'connection'), 'close');
  });

  it("keeps the handler's Date header and adds no second one", async (t) => {
    const h = await serve(t, (_req, res) => send(res, 200, 'ok', ['Date', 'Tue, 01 Jan 2030 00:00:00 GMT']));
    const c = await RawClient.open(h.port);
    c.write(get());
    const [r] = await c.responses(1);
    assert.deepEqual(header(r!, 'date'), ['Tue, 01 Jan 2030 00:00:00 GMT']);
  });

  it('sends a body of unknown length chunked to an HTTP/1.1 client, terminated with the last chunk', async (t) => {
    const h = await serve(t, (_req, res) => {
      res.writeHead(200, ['content-type', 'text/plain']);
      res.write('abc');
      res.write(Buffer.from('defg'));
      setImmediate(() => res.end('hij'));
    });
    const c = await RawClient.open(h.port);
    c.write(get('/1'));
    const [r] = await c.responses(1);
    assert.equal(one(r!, 'transfer-encoding'), 'chunked');
    assert.equal(one(r!, 'content-length'), undefined);
    assert.equal(r!.body.toString(), 'abcdefghij');
    c.write(get('/2'));
    const rs = await c.responses(2);
    assert.equal(rs[1]!.body.toString(), 'abcdefghij');
    assert.equal(h.accepted, 1);
  });

  it('sends a body of unknown length to an HTTP/1.0 client close-delimited', async (t) => {
    const h = await serve(t, (_req, res) => {
      res.writeHead(200, []);
      res.write('abc');
      setImmediate(() => res.end('def'));
    });
    const c = await RawClient.open(h.port);
    c.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await c.untilEnd();
    const { responses, rest } = parseResponses(c.data, [], true);
    assert.equal(responses.length, 1);
    assert.equal(rest.length, 0);
    const r = responses[0]!;
    assert.equal(r.framing, 'close');
    assert.equal(one(r, 'connection'), 'close');
    assert.equal(one(r, 'transfer-encoding'), undefined);
    assert.equal(r.body.toString(), 'abcdef');
  });

  it('closes after answering an HTTP/1.0 client that did not ask for keep-alive', async (t) => {
    const h = await serve(t, (_req, res) => send(res, 200, 'ok'));
    const c = await RawClient.open(h.port);
    c.write('GET / HTTP/1.0\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(one(r!, 'connection'), 'close');
    await c.untilEnd();
  });

  it('keeps an HTTP/1.0 keep-alive connection when the length is known', async (t) => {
    const h = await serve(t, (req, res) => send(res, 200, req.url!));
    const c = await RawClient.open(h.port);
    c.write('GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(one(r!, 'connection'), 'keep-alive');
    c.write('GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const rs = await c.responses(2);
    assert.equal(rs[1]!.body.toString(), '/two');
    assert.equal(c.ended, false);
    assert.equal(h.accepted, 1);
  });

  it('puts no body on the wire for HEAD, 204 and 304, and the next request still parses', async (t) => {
    const h = await serve(t, (req, res) => {
      if (req.url === '/204') {
        res.writeHead(204, []);
        res.write('nope');
        return res.end('nope');
      }
      if (req.url === '/304') {
        res.writeHead(304, ['etag', '"v1"']);
        return res.end('nope');
      }
      if (req.method === 'HEAD') return send(res, 200, 'nope');
      send(res, 200, 'fine');
    });
    const c = await RawClient.open(h.port);
    c.write(`HEAD / HTTP/1.1\r\nHost: a\r\n\r\n` + get('/204') + get('/304') + get('/after'));
    const methods = ['HEAD', 'GET', 'GET', 'GET'];
    await c.responses(4, methods);
    const { responses, rest } = parseResponses(c.data, methods, false);
    assert.equal(rest.length, 0, 'nothing past the last response');
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 204, 304, 200],
    );
    assert.equal(one(responses[0]!, 'content-length'), '4', 'HEAD keeps the length the GET would have');
    assert.equal(one(responses[1]!, 'transfer-encoding'), undefined);
    assert.equal(one(responses[1]!, 'content-length'), undefined);
    assert.equal(one(responses[2]!, 'etag'), '"v1"');
    assert.equal(responses[3]!.body.toString(), 'fine');
    assert.ok(!c.text.includes('nope'));
  });

  it('refuses a line break in a header value or the status text, so a handler can still answer', async (t) => {
    const refused: string[] = [];
    const h = await serve(t, (_req, res) => {
      for (const write of [() => res.writeHead(200, ['x-evil', 'a\r\nset-cookie: pwned=1']), () => res.writeHead(200, 'OK\r\nset-cookie: pwned=1', [])]) {
        try {
          write();
        } catch (err) {
          refused.push((err as NodeJS.ErrnoException).code ?? 'error');
        }
      }
      res.writeHead(502, 'Bad Gateway', ['content-length', '7']);
      res.end('refused');
    });
    const c = await RawClient.open(h.port);
    c.write(get());
    const [r] = await c.responses(1);
    assert.equal(r!.status, 502);
    assert.equal(refused.length, 2);
    assert.ok(!c.text.includes('pwned'));
  });
});

describe('listener keep-alive and pipelining (RFC 9112 §9.3)', GUARD, () => {
  it('answers several requests on one connection', async (t) => {
    const h = await serve(t, (req, res) => setImmediate(() => send(res, 200, req.url!)));
    const c = await RawClient.open(h.port);
    for (let i = 1; i <= 4; i++) {
      c.write(get(`/${i}`));
      const rs = await c.responses(i);
      assert.equal(rs[i - 1]!.body.toString(), `/${i}`);
    }
    assert.equal(h.accepted, 1);
  });

  it('answers a Connection: close request with connection: close and then closes', async (t) => {
    const h = await serve(t, (_req, res) => send(res, 200, 'bye'));
    const c = await RawClient.open(h.port);
    c.write(get('/', 'Connection: close\r\n'));
    const [r] = await c.responses(1);
    assert.equal(one(r!, 'connection'), 'close');
    await c.untilEnd();
    assert.equal(r!.body.toString(), 'bye');
  });

  it('closes after a response whose handler set Connection: close, saying so once', async (t) => {
    const h = await serve(t, (_req, res) => send(res, 400, 'no', ['connection', 'close']));
    const c = await RawClient.open(h.port);
    c.write(get());
    const [r] = await c.responses(1);
    assert.deepEqual(header(r!, 'connection'), ['close']);
    await c.untilEnd();
  });

  it('hands pipelined requests to the handler one at a time, in order, though the later ones are quicker', async (t) => {
    const delays: Record<string, number> = { '/a': 30, '/b': 10, '/c': 0 };
    const seen: string[] = [];
    let inFlight = 0;
    let most = 0;
    const h = await serve(t, (req, res) => {
      seen.push(req.url!);
      most = Math.max(most, ++inFlight);
      res.on('finish', () => inFlight--);
      res.writeHead(200, []);
      res.write(`${req.url}:1;`);
      setTimeout(() => {
        res.write(`${req.url}:2;`);
        setTimeout(() => res.end(`${req.url}:3`), delays[req.url!]);
      }, delays[req.url!]);
    });
    const c = await RawClient.open(h.port);
    c.write(get('/a') + get('/b') + get('/c'));
    const rs = await c.responses(3);
    assert.deepEqual(
      rs.map((r) => r.body.toString()),
      ['/a:1;/a:2;/a:3', '/b:1;/b:2;/b:3', '/c:1;/c:2;/c:3'],
    );
    assert.deepEqual(seen, ['/a', '/b', '/c']);
    assert.equal(most, 1, 'never two exchanges of one connection at once');
  });

  it('answers a pipelined request with a body queued behind a slow one', async (t) => {
    const h = await serve(t, async (req, res) => {
      if (req.url === '/slow') return setTimeout(() => send(res, 200, 'slow'), 20);
      const body = await readAll(req);
      send(res, 200, `${req.url}=${body.toString()}`);
    });
    const c = await RawClient.open(h.port);
    c.write(
      get('/slow') +
        'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world' +
        'POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n' +
        get('/last'),
    );
    const rs = await c.responses(4);
    assert.deepEqual(
      rs.map((r) => r.body.toString()),
      ['slow', '/echo=hello world', '/chunks=abcde', '/last='],
    );
  });

  it('stops reading the socket while a pipelined request waits, and reads on once all are answered', async (t) => {
    const release = gate();
    const states: boolean[] = [];
    let first: IncomingMessage | undefined;
    const h = await serve(t, (req, res) => {
      if (req.url === '/held') {
        first = req;
        return void release.promise.then(() => send(res, 200, 'held'));
      }
      send(res, 200, req.url!);
    });
    const c = await RawClient.open(h.port);
    c.write(get('/held') + get('/queued'));
    await until(() => first !== undefined);
    await new Promise((r) => setTimeout(r, 20));
    states.push(first!.socket.isPaused());
    release.open();
    const rs = await c.responses(2);
    assert.deepEqual(
      rs.map((r) => r.body.toString()),
      ['held', '/queued'],
    );
    await until(() => !first!.socket.isPaused());
    c.write(get('/later'));
    const more = await c.responses(3);
    assert.equal(more[2]!.body.toString(), '/later');
    assert.deepEqual(states, [true], 'paused while /queued waited');
  });

  it(`cuts a connection that pipelines more than ${MAX_PIPELINED} requests behind an unanswered one`, async (t) => {
    const release = gate();
    let calls = 0;
    const h = await serve(t, (req, res) => {
      calls++;
      if (req.url === '/held') return void release.promise.then(() => send(res, 200, 'held'));
      send(res, 200, 'ok');
    });
    const c = await RawClient.open(h.port);
    c.write(get('/held') + get('/more').repeat(MAX_PIPELINED + 10));
    await c.untilEnd();
    release.open();
    assert.equal(calls, 1, 'none of the waiting requests reached the handler');
    const next = await RawClient.open(h.port);
    next.write(get('/fine'));
    const [r] = await next.responses(1);
    assert.equal(r!.status, 200);
  });

  it("serves node's http client with a keep-alive agent", async (t) => {
    const h = await serve(t, async (req, res) => send(res, 200, `${req.method} ${(await readAll(req)).length}`));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    for (const size of [0, 10, 100_000]) {
      const body = await new Promise<string>((resolve, reject) => {
        const r = request({ port: h.port, host: '127.0.0.1', method: 'POST', path: '/', agent }, (res) => {
          let s = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (s += d));
          res.on('end', () => resolve(s));
        });
        r.on('error', reject);
        r.end(Buffer.alloc(size, 1));
      });
      assert.equal(body, `POST ${size}`);
    }
    assert.equal(h.accepted, 1);
  });
});

describe('listener request bodies', GUARD, () => {
  it('hands a content-length body over byte-exact', async (t) => {
    const payload = randomBytes(200_000);
    const h = await serve(t, async (req, res) => send(res, 200, sha(await readAll(req))));
    const c = await RawClient.open(h.port);
    c.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${payload.length}\r\n\r\n`);
    c.write(payload);
    const [r] = await c.responses(1);
    assert.equal(r!.body.toString(), sha(payload));
  });

  it('hands a chunked body over byte-exact when it arrives in many small writes', async (t) => {
    const payload = randomBytes(5_000);
    const parts: Buffer[] = [Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1')];
    for (let at = 0, n = 1; at < payload.length; at += n, n = (n * 7) % 997 || 1) {
      const piece = payload.subarray(at, at + n);
      parts.push(Buffer.from(`${piece.length.toString(16)}${parts.length === 4 ? ';ext=1' : ''}\r\n`, 'latin1'), piece, Buffer.from('\r\n'));
    }
    const bytes = Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
    const h = await serve(t, async (req, res) => send(res, 200, sha(await readAll(req))));
    const c = await RawClient.open(h.port);
    for (let at = 0; at < bytes.length; at += 7) {
      c.write(bytes.subarray(at, at + 7));
      await tick();
    }
    const [r] = await c.responses(1);
    assert.equal(r!.body.toString(), sha(payload));
  });

  it("keeps a chunked body's trailer fields out of the next request's headers", async (t) => {
    const seen: string[][] = [];
    const h = await serve(t, async (req, res) => {
      seen.push(req.rawHeaders);
      send(res, 200, (await readAll(req)).toString());
    });
    const c = await RawClient.open(h.port);
    c.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Trailer: injected\r\n\r\n' + get('/next'));
    const [first, second] = await c.responses(2);
    assert.equal(first!.body.toString(), 'hi');
    assert.equal(second!.status, 200);
    assert.deepEqual(seen[1], ['Host', 'a.test']);
  });

  it('applies backpressure to a large upload read slowly, and it arrives intact', async (t) => {
    const payload = randomBytes(8 * 1024 * 1024);
    let maxBuffered = 0;
    let pausedWhenFull = false;
    const h = await serve(t, async (req, res) => {
      // Let the buffer fill: the socket must be paused once it holds a high-water mark.
      await new Promise<void>((resolve) => {
        const poll = () => (req.readableLength >= req.readableHighWaterMark ? resolve() : setImmediate(poll));
        poll();
      });
      pausedWhenFull = req.socket.isPaused();
      await new Promise((r) => setTimeout(r, 20));
      maxBuffered = req.readableLength;
      const hash = createHash('sha256');
      let n = 0;
      for await (const chunk of req) {
        hash.update(chunk as Buffer);
        maxBuffered = Math.max(maxBuffered, req.readableLength);
        if (++n % 16 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      send(res, 200, hash.digest('hex'));
    });
    const c = await RawClient.open(h.port);
    c.write(`PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${payload.length}\r\n\r\n`);
    c.write(payload);
    const [r] = await c.responses(1);
    assert.equal(r!.body.toString(), sha(payload));
    assert.ok(pausedWhenFull, 'reading paused when the body buffer was full');
    assert.ok(maxBuffered <= 4 * 65_536, `body buffer stayed bounded (${maxBuffered} bytes)`);
  });

  it('discards the rest of a body answered early (413) and parses the next request', async (t) => {
    const seen: string[] = [];
    const h = await serve(t, (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/upload') return send(res, 413, 'too large');
      send(res, 200, 'next');
    });
    const body = randomBytes(300_000);
    const c = await RawClient.open(h.port);
    c.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`);
    c.write(body.subarray(0, 1000));
    const [r] = await c.responses(1);
    assert.equal(r!.status, 413);
    c.write(body.subarray(1000));
    c.write(get('/next'));
    const rs = await c.responses(2);
    assert.equal(rs[1]!.status, 200);
    assert.equal(rs[1]!.body.toString(), 'next');
    assert.deepEqual(seen, ['POST /upload', 'GET /next']);
  });

  it('sends 100 Continue before the body of an Expect: 100-continue request', async (t) => {
    const h = await serve(t, async (req, res) => send(res, 200, await readAll(req)));
    const c = await RawClient.open(h.port);
    c.write('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.until(() => c.data.length >= 25, '100 Continue');
    assert.equal(c.text, 'HTTP/1.1 100 Continue\r\n\r\n');
    c.write('hello');
    const rs = await c.responses(1);
    assert.deepEqual(
      rs.map((r) => r.status),
      [100, 200],
    );
    assert.equal(rs[1]!.body.toString(), 'hello');
  });

  it('answers an unknown expectation with 417 and never calls the handler', async (t) => {
    let calls = 0;
    const h = await serve(t, (_req, res) => {
      calls++;
      send(res, 200, 'ok');
    });
    const c = await RawClient.open(h.port);
    c.write('POST / HTTP/1.1\r\nHost: a\r\nExpect: the-unexpected\r\nContent-Length: 5\r\n\r\nhello');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 417);
    assert.equal(calls, 0);
  });
});

/** A handler that reads the whole body and answers with its length, counting calls and cancels. */
function counting(): { calls: number; cancels: number; handler: Handler } {
  const seen = { calls: 0, cancels: 0, handler: undefined as unknown as Handler };
  seen.handler = (req, res, conn) => {
    seen.calls++;
    conn.hooks = { closed: () => {}, cancel: () => seen.cancels++ };
    void readAll(req).then(
      (body) => send(res, 200, String(body.length)),
      () => {},
    );
  };
  return seen;
}

describe('listener malformed requests', GUARD, () => {
  // Refused in the head: no handler sees them.
  const heads: [string, string, number, string, Partial<ServerLimits>][] = [
    ['garbage', 'this is not http\r\n\r\n', 400, 'bad_request', {}],
    ['a head over maxHeaderBytes', get('/', `x-big: ${'a'.repeat(2_000)}\r\n`), 431, 'headers_too_large', { maxHeaderBytes: 1_024 }],
    ['CONNECT', 'CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n', 400, 'bad_request', {}],
    ['an upgrade request with a body', 'POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello', 400, 'bad_request', {}],
    ['a bare LF line ending', 'GET / HTTP/1.1\nHost: a\n\n', 400, 'bad_request', {}],
    ['obsolete line folding', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400, 'bad_request', {}],
    ['both Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request', {}],
    ['two Content-Length fields', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', 400, 'bad_request', {}],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello', 400, 'bad_request', {}],
    ['Transfer-Encoding sent twice', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request', {}],
  ];
  for (const [what, bytes, status, code, opts] of heads) {
    it(`answers ${what} with ${status} problem+json, closes, and serves the next connection`, async (t) => {
      const seen = counting();
      let upgrades = 0;
      const h = await serve(t, seen.handler, opts, (_req, socket) => {
        upgrades++;
        socket.destroy();
      });
      const c = await RawClient.open(h.port);
      c.write(bytes);
      await c.untilEnd();
      const { responses } = parseResponses(c.data, [], true);
      assert.equal(responses.length, 1, c.text);
      const r = responses[0]!;
      assert.equal(r.status, status);
      assert.equal(one(r, 'content-type'), 'application/problem+json');
      assert.equal(one(r, 'connection'), 'close');
      assert.deepEqual(JSON.parse(r.body.toString()), { type: 'about:blank', title: r.reason, status, code });
      assert.equal(seen.calls + upgrades, 0, 'no handler saw the request');
      const next = await RawClient.open(h.port);
      next.write(get());
      const [ok] = await next.responses(1);
      assert.equal(ok!.status, 200);
    });
  }

  // Refused once the head is in (node hands the request on first): the exchange is cancelled and answered 400.
  const bodies: [string, string][] = [
    ['Transfer-Encoding: identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\nhello'],
    ['Transfer-Encoding: xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size that overflows', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF after a chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n'],
    ['a bare LF after chunk data', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n'],
    ['a LF in a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\nc\r\nhello\r\n0\r\n\r\n'],
    ['chunk data without its CRLF', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n'],
  ];
  for (const [what, bytes] of bodies) {
    it(`answers ${what} with 400 problem+json, cancels its exchange, closes, and serves the next connection`, async (t) => {
      const seen = counting();
      const h = await serve(t, seen.handler);
      const c = await RawClient.open(h.port);
      c.write(bytes);
      await c.untilEnd();
      const { responses } = parseResponses(c.data, [], true);
      assert.equal(responses.length, 1, c.text);
      const r = responses[0]!;
      assert.equal(r.status, 400);
      assert.equal(one(r, 'connection'), 'close');
      assert.equal(JSON.parse(r.body.toString()).code, 'bad_request');
      assert.deepEqual([seen.calls, seen.cancels], [1, 1], 'the exchange was cancelled before its upstream work could finish');
      const next = await RawClient.open(h.port);
      next.write(get());
      const [ok] = await next.responses(1);
      assert.equal(ok!.status, 200);
    });
  }

  it('cuts the connection when a pipelined request is malformed behind one being answered', async (t) => {
    const release = gate();
    const h = await serve(t, (_req, res) => void release.promise.then(() => send(res, 200, 'late')));
    const c = await RawClient.open(h.port);
    c.write(get('/slow') + 'nonsense\r\n\r\n');
    await c.untilEnd();
    release.open();
    assert.equal(c.text, '', 'neither a 400 nor the late answer, out of order');
  });
});

describe('listener deadlines', GUARD, () => {
  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async (t) => {
    const h = await serve(t, (_req, res) => send(res, 200, 'ok'), { keepAliveTimeoutMs: 100 });
    const c = await RawClient.open(h.port);
    c.write(get());
    await c.responses(1);
    await c.untilEnd();
    assert.equal(parseResponses(c.data, [], false).rest.length, 0, 'closed without a word: no 408 for an idle connection');
  });

  it('answers a head trickled slower than headersTimeoutMs with 408 and closes (slowloris)', async (t) => {
    let calls = 0;
    const h = await serve(
      t,
      (_req, res) => {
        calls++;
        send(res, 200, 'ok');
      },
      { headersTimeoutMs: 150, requestTimeoutMs: 150 },
    );
    const c = await RawClient.open(h.port);
    c.write('GET / HTTP/1.1\r\nHost: a\r\n');
    const trickle = setInterval(() => {
      if (!c.ended && !c.closed) c.write('x-slow: y\r\n');
    }, 10);
    t.after(() => clearInterval(trickle));
    await c.untilEnd();
    clearInterval(trickle);
    const { responses } = parseResponses(c.data, [], true);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]!.status, 408);
    assert.equal(one(responses[0]!, 'connection'), 'close');
    assert.equal(JSON.parse(responses[0]!.body.toString()).code, 'request_timeout');
    assert.equal(calls, 0);
  });

  it('answers a body trickled past requestTimeoutMs with 408 and cancels its exchange', async (t) => {
    const seen = counting();
    const h = await serve(t, seen.handler, { headersTimeoutMs: 150, requestTimeoutMs: 300 });
    const c = await RawClient.open(h.port);
    c.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n');
    const trickle = setInterval(() => {
      if (!c.ended && !c.closed) c.write('x');
    }, 10);
    t.after(() => clearInterval(trickle));
    await c.untilEnd();
    clearInterval(trickle);
    const { responses } = parseResponses(c.data, [], true);
    assert.equal(responses.length, 1, c.text);
    assert.equal(responses[0]!.status, 408);
    assert.equal(JSON.parse(responses[0]!.body.toString()).code, 'request_timeout');
    assert.deepEqual([seen.calls, seen.cancels], [1, 1]);
  });

  it('never closes an exchange in flight for any deadline, and counts idleness from its end', async (t) => {
    const opts = { keepAliveTimeoutMs: 60, headersTimeoutMs: 60, requestTimeoutMs: 60 };
    const release = gate();
    const h = await serve(
      t,
      (req, res) => {
        if (req.url === '/busy') return void release.promise.then(() => send(res, 200, 'done'));
        send(res, 200, 'ok');
      },
      opts,
    );
    const busy = await RawClient.open(h.port);
    busy.write(get('/busy'));
    // The checks prove every deadline has passed: an idle connection and a slow head are closed.
    const idle = await RawClient.open(h.port);
    idle.write(get('/'));
    await idle.responses(1);
    const slow = await RawClient.open(h.port);
    slow.write('GET / HTTP/1.1\r\n');
    await Promise.all([idle.untilEnd(), slow.untilEnd()]);
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    assert.equal(busy.ended || busy.closed, false, 'the busy exchange is still open');
    release.open();
    const [r] = await busy.responses(1);
    assert.equal(r!.body.toString(), 'done');
    busy.write(get('/again'));
    const rs = await busy.responses(2);
    assert.equal(rs[1]!.body.toString(), 'ok');
  });
});

describe('listener upgrades (RFC 9110 §7.8)', GUARD, () => {
  it('hands an upgrade request to the upgrade handler with the socket and the bytes past the head', async (t) => {
    let calls = 0;
    const heads: Buffer[] = [];
    const reqs: IncomingMessage[] = [];
    const h = await serve(
      t,
      () => calls++,
      {},
      (req, socket, head) => {
        reqs.push(req);
        heads.push(head);
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
        socket.write(head);
        socket.on('data', (d) => socket.write(d));
      },
    );
    const c = await RawClient.open(h.port);
    const extra = Buffer.from([0x81, 0x85, 0, 0, 0, 0, 0x68, 0x65, 0x6c, 0x6c, 0x0d, 0x0a]);
    c.write(Buffer.concat([Buffer.from('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 'latin1'), extra]));
    await c.until(() => c.text.includes('\r\n\r\n') && c.data.length >= c.text.indexOf('\r\n\r\n') + 4 + extra.length, 'the echo of the extra bytes');
    assert.equal(heads.length, 1);
    assert.deepEqual(heads[0], extra);
    assert.equal(reqs[0]!.url, '/ws');
    assert.equal(reqs[0]!.headers.upgrade, 'websocket');
    c.write('after');
    await c.until(() => c.text.endsWith('after'), 'the echo after the upgrade');
    assert.equal(calls, 0);
  });

  it('hands over an empty head when nothing follows the request head', async (t) => {
    const heads: Buffer[] = [];
    const h = await serve(
      t,
      () => {},
      {},
      (_req, socket, head) => {
        heads.push(head);
        socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      },
    );
    const c = await RawClient.open(h.port);
    c.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await c.untilEnd();
    assert.equal(heads.length, 1);
    assert.equal(heads[0]!.length, 0);
  });

  it('cuts an upgrade pipelined behind an exchange still being answered, and never hands it over', async (t) => {
    const release = gate();
    const upgrades: Duplex[] = [];
    const h = await serve(
      t,
      (_req, res) => void release.promise.then(() => send(res, 200, 'late')),
      {},
      (_req, socket) => upgrades.push(socket),
    );
    const c = await RawClient.open(h.port);
    c.write(get('/slow') + 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await c.untilEnd();
    release.open();
    assert.equal(upgrades.length, 0);
  });
});

describe('listener clients going away', GUARD, () => {
  it('answers a client that half-closed right after its request', async (t) => {
    const h = await serve(t, (_req, res) => setImmediate(() => send(res, 200, 'still here')));
    const c = await RawClient.open(h.port);
    c.write(get());
    c.socket.end();
    await c.untilEnd();
    const { responses } = parseResponses(c.data, [], true);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]!.body.toString(), 'still here');
  });

  it('delivers a large response answered at once to a client that half-closed', async (t) => {
    const big = randomBytes(4 * 1024 * 1024);
    const h = await serve(t, (_req, res) => send(res, 200, big));
    const c = await RawClient.open(h.port);
    c.write(get());
    c.socket.end();
    await c.untilEnd();
    const { responses } = parseResponses(c.data, [], true);
    assert.equal(responses.length, 1, `received ${c.data.length} bytes`);
    assert.equal(sha(responses[0]!.body), sha(big));
  });

  it('closes the exchange once, unfinished, when the client resets mid-response', async (t) => {
    let closes = 0;
    let res: ServerResponse | undefined;
    const closed = gate();
    const h = await serve(t, (_req, r, conn) => {
      res = r;
      conn.hooks = {
        closed: () => {
          closes++;
          closed.open();
        },
        cancel: () => {},
      };
      r.writeHead(200, []);
      r.write('first part');
    });
    const c = await RawClient.open(h.port);
    c.write(get());
    await c.until(() => c.text.includes('first part'), 'the first part');
    c.socket.resetAndDestroy();
    await closed.promise;
    await tick();
    assert.equal(closes, 1);
    assert.equal(res!.destroyed, true);
    assert.equal(res!.writableFinished, false);
  });

  for (const how of ['end', 'reset'] as const) {
    it(`survives a client going away mid-body when nobody reads the body (${how})`, async (t) => {
      const answered = gate();
      const h = await serve(t, (req, res) => {
        if (req.url === '/ignored') {
          send(res, 404, 'not here');
          return answered.open();
        }
        send(res, 200, 'alive');
      });
      const c = await RawClient.open(h.port);
      c.write('POST /ignored HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n');
      c.write(Buffer.alloc(1_000, 7));
      await answered.promise;
      await c.responses(1);
      if (how === 'end') c.socket.end();
      else c.socket.resetAndDestroy();
      await c.untilEnd();
      const next = await RawClient.open(h.port);
      next.write(get());
      const [r] = await next.responses(1);
      assert.equal(r!.body.toString(), 'alive');
    });

    it(`closes the exchange with its body unfinished, cancelled, when the client goes away mid-body (${how})`, async (t) => {
      const outcome = gate<string>();
      const h = await serve(t, (req, _res, conn) => {
        let ended = false;
        let cancelled = false;
        req.on('end', () => (ended = true));
        req.on('error', () => {});
        conn.hooks = {
          closed: () => outcome.open(`${ended || req.complete ? 'ended as if complete' : 'cut short'}${cancelled ? ', cancelled' : ''}`),
          cancel: () => (cancelled = true),
        };
        req.resume();
      });
      const c = await RawClient.open(h.port);
      c.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n');
      c.write(Buffer.alloc(1_000, 7));
      await tick();
      if (how === 'end') c.socket.end();
      else c.socket.resetAndDestroy();
      // A half-closed client can still read why its request failed; a reset one is simply gone.
      const seen = await outcome.promise;
      if (how === 'end') assert.equal(seen, 'cut short, cancelled');
      else assert.match(seen, /^cut short/);
      if (how === 'end') {
        await c.untilEnd();
        assert.match(c.text, /^HTTP\/1\.1 400 /);
      }
    });
  }
});

describe('listener shutdown', GUARD, () => {
  it('closes idle connections at once and busy ones after their exchange, answered with connection: close', async (t) => {
    const release = gate();
    const started = gate();
    const h = await serve(t, (req, res) => {
      if (req.url === '/busy') {
        started.open();
        return void release.promise.then(() => send(res, 200, 'finished'));
      }
      send(res, 200, 'ok');
    });
    const idle = await RawClient.open(h.port);
    idle.write(get());
    await idle.responses(1);
    const busy = await RawClient.open(h.port);
    busy.write(get('/busy'));
    await started.promise;
    const closed = h.close();
    await idle.untilEnd();
    assert.equal(busy.ended || busy.closed, false);
    release.open();
    const [r] = await busy.responses(1);
    assert.equal(r!.body.toString(), 'finished');
    assert.equal(one(r!, 'connection'), 'close');
    await busy.untilEnd();
    await closed;
    assert.equal(h.open, 0);
  });
});
