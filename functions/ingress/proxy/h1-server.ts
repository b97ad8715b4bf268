// The proxy's HTTP/1.1 server side: requests parsed by node's llhttp binding (the parser node's own
// http server uses, strict: no lenient flags), and responses written as one head string coalesced
// with the first body chunk. A proxy needs a small part of node's http server and pays for all of
// it on every request (two stream objects, per-request timers and events); this connection handler
// keeps one parser and a few fields per connection, and streams exist only for request bodies.
//
// What it keeps from node's server: keep-alive and pipelining (requests answered one at a time, in
// order), `Expect: 100-continue`, upgrades handed over with the bytes read past the head, head size
// limit (431), head timeout (408, slowloris), keep-alive idle timeout, HTTP/1.0 clients
// (close-delimited bodies), chunked responses when the length is unknown, a Date header, and a
// graceful close that finishes in-flight exchanges. A Host header sent twice is refused (RFC 9112 §3.2).
// @see https://www.rfc-editor.org/rfc/rfc9112
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createParser, MAX_HEADER_PAIRS, METHODS } from './llhttp.js';
import type { NativeParser } from './llhttp.js';

const UNSAFE = /[\0\r\n]/;
/** A Connection header value with the "close" option. */
const CLOSE = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;

export interface ServerOptions {
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export type RequestHandler = (req: ProxyRequest, res: ProxyResponse) => void;
export type UpgradeHandler = (req: ProxyRequest, socket: Socket, head: Buffer) => void;

/** Header map as node's IncomingMessage builds it: lower-case names; duplicates joined. */
export type HeaderMap = Record<string, string | undefined>;

/** The request body, a plain Readable fed by the parser with backpressure on the socket. */
class RequestBody extends Readable {
  readonly conn: ServerConnection;
  constructor(conn: ServerConnection) {
    super({ highWaterMark: 65_536 });
    this.conn = conn;
  }
  override _read(): void {
    this.conn.bodyWanted();
  }
  /** As node's IncomingMessage: the error goes only to a listener, so a body nobody reads cannot crash the process. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    cb(this.listenerCount('error') > 0 ? err : null);
  }
}

/** One parsed request. */
export class ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly headers: HeaderMap;
  readonly socket: Socket;
  readonly httpVersionMinor: number;
  /** The body stream, or null when the request has none (no Content-Length above 0, no Transfer-Encoding). */
  body: RequestBody | null = null;
  /** Whether the parser has seen the whole request. */
  complete = false;

  constructor(method: string, url: string, rawHeaders: string[], headers: HeaderMap, socket: Socket, minor: number) {
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    this.headers = headers;
    this.socket = socket;
    this.httpVersionMinor = minor;
  }

  /** Discards the body (the answer did not need it). */
  resume(): void {
    this.body?.resume();
  }
}

/** Builds the header map: Host, Content-Length and a few more keep their first value; Cookie joins with "; ". */
function headerMap(raw: string[]): { map: HeaderMap; hosts: number } {
  // No prototype: a header named `constructor` or `__proto__` is just a header.
  const map: HeaderMap = Object.create(null) as HeaderMap;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prior = map[name];
    if (name === 'host') hosts++;
    if (prior === undefined) map[name] = value;
    else if (name === 'cookie') map[name] = `${prior}; ${value}`;
    else if (!FIRST_ONLY.has(name)) map[name] = `${prior}, ${value}`;
  }
  return { map, hosts };
}

const FIRST_ONLY = new Set(['host', 'content-type', 'content-length', 'user-agent', 'referer', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);

let dateCache = '';
let dateSecond = 0;
/** The Date header value, rebuilt at most once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateCache = new Date(now).toUTCString();
  }
  return dateCache;
}

/** The response to one request; written straight to the connection. */
export class ProxyResponse {
  readonly conn: ServerConnection;
  readonly req: ProxyRequest;
  statusCode = 0;
  headersSent = false;
  /** end() was called: the response is complete. */
  finished = false;
  /** The exchange is over: finished, or cut by the connection closing. */
  destroyed = false;
  /** Called once when the exchange is over (finished or cut). */
  onClose: (() => void) | undefined = undefined;
  /** Called once when the connection can take more data after `write` returned false. */
  onDrain: (() => void) | undefined = undefined;
  private head: string | undefined = undefined;
  private chunked = false;
  private noBody = false;
  /** Close the connection after this response. */
  closeAfter = false;

  constructor(conn: ServerConnection, req: ProxyRequest) {
    this.conn = conn;
    this.req = req;
  }

  /** Sets the status and headers (flat list); they go out with the first body bytes or `end`. */
  writeHead(status: number, statusTextOrHeaders: string | undefined | string[], maybeHeaders?: string[]): void {
    if (this.headersSent || this.destroyed) return;
    const headers = Array.isArray(statusTextOrHeaders) ? statusTextOrHeaders : (maybeHeaders ?? []);
    const text = typeof statusTextOrHeaders === 'string' && statusTextOrHeaders ? statusTextOrHeaders : (STATUS_CODES[status] ?? 'Unknown');
    this.statusCode = status;
    this.headersSent = true;
    const req = this.req;
    const conn = this.conn;
    this.noBody = req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    let head = `HTTP/1.1 ${status} ${text}\r\n`;
    let hasLength = false;
    let hasDate = false;
    let saysClose = false;
    // The reason phrase, names and values, checked in one pass once the head is built.
    let fields = text;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      fields += name + value;
      const n = name.length;
      if (n === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      else if (n === 4 && name.toLowerCase() === 'date') hasDate = true;
      else if (n === 10 && name.toLowerCase() === 'connection' && CLOSE.test(value)) saysClose = true;
      head += `${name}: ${value}\r\n`;
    }
    if (UNSAFE.test(fields)) {
      // Never split a response: a line break in a field came from a bug, not from a peer.
      conn.destroy();
      return;
    }
    if (!hasDate) head += `date: ${httpDate()}\r\n`;
    if (!this.noBody && !hasLength) {
      if (req.httpVersionMinor >= 1) {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      } else this.closeAfter = true; // HTTP/1.0: the body ends with the connection
    }
    // A server that sends the "close" option MUST close after that response (RFC 9112 §9.6).
    if (!conn.keepAlive || conn.closing || saysClose) this.closeAfter = true;
    if (this.closeAfter) {
      if (!saysClose) head += 'connection: close\r\n';
    } else if (req.httpVersionMinor === 0) head += 'connection: keep-alive\r\n';
    this.head = head + '\r\n';
  }

  /** Writes a body chunk; false when the socket is full (`onDrain` is called once it drains). */
  write(chunk: Buffer | string): boolean {
    if (this.destroyed || this.finished) return false;
    if (!this.headersSent) this.writeHead(200, undefined, []);
    const socket = this.conn.socket;
    if (this.noBody || chunk.length === 0) {
      if (this.head !== undefined) {
        socket.write(this.head, 'latin1');
        this.head = undefined;
      }
      return !socket.writableNeedDrain;
    }
    const head = this.head;
    this.head = undefined;
    if (this.chunked) {
      const size = `${Buffer.byteLength(chunk).toString(16)}\r\n`;
      socket.cork();
      socket.write(head === undefined ? size : head + size, 'latin1');
      socket.write(chunk);
      const ok = socket.write('\r\n', 'latin1');
      socket.uncork();
      return ok;
    }
    if (head === undefined) return socket.write(chunk);
    // One write with the head only for an ASCII string, whose latin1 and UTF-8 bytes agree.
    if (typeof chunk === 'string' && Buffer.byteLength(chunk) === chunk.length) return socket.write(head + chunk, 'latin1');
    socket.cork();
    socket.write(head, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  /** Ends the response (after an optional last chunk). */
  end(chunk?: Buffer | string): void {
    if (this.destroyed || this.finished) return;
    if (!this.headersSent) this.writeHead(200, undefined, ['content-length', String(chunk ? Buffer.byteLength(chunk) : 0)]);
    if (this.destroyed) return;
    const socket = this.conn.socket;
    if (chunk && chunk.length > 0 && !this.noBody) {
      if (this.chunked) {
        socket.cork();
        this.write(chunk);
        socket.write('0\r\n\r\n', 'latin1');
        socket.uncork();
      } else this.write(chunk);
    } else {
      const head = this.head;
      this.head = undefined;
      const tail = this.chunked && !this.noBody ? '0\r\n\r\n' : '';
      if (head !== undefined || tail) socket.write((head ?? '') + tail, 'latin1');
    }
    this.finished = true;
    this.conn.responseDone(this);
  }

  /** Cuts the exchange: the connection closes (a client sees a truncated response). */
  destroy(): void {
    if (this.destroyed) return;
    this.conn.destroy();
  }

  /** Marks the exchange over and tells the owner, once. */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const f = this.onClose;
    this.onClose = undefined;
    f?.();
  }
}

interface Pending {
  req: ProxyRequest;
}

/** One client connection: its parser, the exchange being answered and the requests pipelined behind it. */
export class ServerConnection {
  readonly socket: Socket;
  readonly server: LeanServer;
  readonly parser: NativeParser<ServerConnection>;
  /** The request being parsed (head or body). */
  parsing: ProxyRequest | undefined = undefined;
  /** The response being written. */
  active: ProxyResponse | undefined = undefined;
  /** Parsed requests waiting for the active response to finish (pipelining). */
  waiting: Pending[] = [];
  keepAlive = true;
  closing = false;
  dead = false;
  /** When the connection went idle, or the current head began (performance.now()). */
  since: number;
  /** 'idle': between requests; 'head': receiving a head; 'busy': an exchange is in flight. */
  state: 'idle' | 'head' | 'busy' = 'idle';
  readingPaused = false;
  upgraded = false;

  constructor(server: LeanServer, socket: Socket) {
    this.server = server;
    this.socket = socket;
    this.since = performance.now();
    this.parser = createParser('REQUEST', this, server.opts.maxHeaderBytes, CALLBACKS);
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.onSocketClose());
    socket.on('drain', () => {
      const res = this.active;
      const f = res?.onDrain;
      if (f) {
        res!.onDrain = undefined;
        f();
      }
    });
  }

  onData(d: Buffer): void {
    if (this.dead || this.upgraded) return;
    const ret = this.parser.execute(d);
    if (this.dead) return;
    if (ret instanceof Error) return this.parseError(ret as Error & { code?: string });
    if (this.upgraded) {
      // Bytes past the upgrade request's head belong to the new protocol.
      this.handOver(d.subarray(ret));
    }
  }

  onEnd(): void {
    // Already closing (error answer, last response): its bytes are still going out.
    if (this.dead) return;
    // The client finished sending. A half-closed client still gets the answer to its last request.
    if (this.parsing && this.parsing.body) this.parsing.body.destroy(new Error('client closed mid-body'));
    if (!this.active && this.waiting.length === 0) {
      // Nothing in flight, but a response just ended may still sit in the socket's buffer: flush it, then close.
      this.dead = true;
      this.server.forget(this);
      this.socket.end();
      this.socket.destroySoon();
    } else this.keepAlive = false;
  }

  parseError(err: Error & { code?: string }): void {
    const code = err.code ?? '';
    if (this.active || this.parsing?.body) {
      // Mid-exchange: the stream cannot be trusted; cut it.
      this.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const text = STATUS_CODES[status]!;
    const body = JSON.stringify({ type: 'about:blank', title: text, status, code: status === 431 ? 'headers_too_large' : 'bad_request' });
    this.socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/problem+json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
    this.dead = true;
    this.server.forget(this);
    this.socket.destroySoon();
  }

  /** A request head is complete. */
  onHead(req: ProxyRequest, upgrade: boolean): void {
    if (upgrade) {
      this.upgraded = true;
      this.pendingUpgrade = req;
      return;
    }
    this.parsing = req;
    if (this.active || this.waiting.length > 0) {
      // Pipelined behind a response still being written: parse no further until it is done.
      this.waiting.push({ req });
      this.pauseReading();
      return;
    }
    this.dispatch(req);
  }

  pendingUpgrade: ProxyRequest | undefined = undefined;

  handOver(head: Buffer): void {
    const req = this.pendingUpgrade!;
    this.pendingUpgrade = undefined;
    if (this.active || this.waiting.length > 0) {
      this.destroy();
      return;
    }
    this.detach();
    this.server.onUpgrade(req, this.socket, head);
  }

  /** Gives the socket away (upgrade): this connection stops reading and tracking it. */
  detach(): void {
    this.dead = true;
    this.server.forget(this);
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    this.socket.removeAllListeners('drain');
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    const parser = this.parser;
    parser.conn = undefined;
    setImmediate(() => parser.close());
  }

  dispatch(req: ProxyRequest): void {
    const res = new ProxyResponse(this, req);
    this.active = res;
    this.state = 'busy';
    const expect = req.headers.expect;
    if (expect !== undefined) {
      if (req.httpVersionMinor >= 1 && expect.toLowerCase() === '100-continue') this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
      else {
        res.closeAfter = true;
        res.writeHead(417, ['content-length', '0']);
        res.end();
        return;
      }
    }
    this.server.onRequest(req, res);
  }

  /** The active response ended: on to the next request, or close. */
  responseDone(res: ProxyResponse): void {
    if (this.active !== res) return;
    this.active = undefined;
    const close = res.closeAfter || !this.keepAlive || this.closing;
    res.close();
    if (close) {
      this.dead = true;
      this.server.forget(this);
      this.socket.end();
      this.socket.destroySoon();
      return;
    }
    // An unread request body is discarded so the next request can be parsed.
    if (res.req.body && !res.req.complete) res.req.body.resume();
    const next = this.waiting.shift();
    if (next) {
      this.dispatch(next.req);
      return;
    }
    this.state = 'idle';
    this.since = performance.now();
    this.resumeReading();
  }

  /** The body being parsed wants more; a request queued behind it keeps reading paused (pipelining). */
  bodyWanted(): void {
    // No active exchange is also a body being discarded after an early answer: it must drain too.
    if (this.waiting.length === 0) this.resumeReading();
  }

  pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused || this.dead) return;
    this.readingPaused = false;
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
    this.onSocketClose();
  }

  onSocketClose(): void {
    if (!this.dead) {
      this.dead = true;
      this.server.forget(this);
    }
    if (this.parsing?.body && !this.parsing.complete) this.parsing.body.destroy(new Error('client connection closed'));
    this.parsing = undefined;
    const res = this.active;
    this.active = undefined;
    this.waiting.length = 0;
    res?.close();
    const parser = this.parser;
    if (parser.conn) {
      parser.conn = undefined;
      setImmediate(() => parser.close());
    }
  }

  /** Called by the server's sweep: closes idle connections and heads that take too long. */
  check(now: number): void {
    if (this.state === 'idle' && now - this.since > this.server.opts.keepAliveTimeoutMs) this.destroy();
    else if (this.state === 'head' && now - this.since > this.server.opts.headersTimeoutMs) {
      const body = JSON.stringify({ type: 'about:blank', title: 'Request Timeout', status: 408, code: 'request_timeout' });
      this.dead = true;
      this.server.forget(this);
      this.socket.end(`HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
      this.socket.destroySoon();
    }
  }

  /** Graceful close: idle connections go now, busy ones after their exchange. */
  shutdown(): void {
    this.closing = true;
    if (this.state !== 'busy') this.destroy();
  }
}

function onMessageBegin(this: NativeParser<ServerConnection>): void {
  const c = this.conn;
  if (!c) return;
  if (c.state === 'idle') {
    c.state = 'head';
    c.since = performance.now();
  }
}

function onHeaders(this: NativeParser<ServerConnection>, headers: string[], url: string): void {
  const acc = (this.partial ??= []);
  if (acc.length + headers.length <= MAX_HEADER_PAIRS * 2) for (const h of headers) acc.push(h);
  this.partialUrl += url;
}

function onHeadersComplete(
  this: NativeParser<ServerConnection>,
  _major: number,
  minor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _status: unknown,
  _text: unknown,
  upgrade: boolean,
  shouldKeepAlive: boolean,
): number {
  const c = this.conn;
  if (!c) return 0;
  if (headers === undefined) {
    headers = this.partial ?? [];
    this.partial = undefined;
  }
  if (url === undefined) {
    url = this.partialUrl;
    this.partialUrl = '';
  }
  const { map, hosts } = headerMap(headers);
  if (hosts > 1) {
    c.parseError(Object.assign(new Error('duplicate Host header'), { code: 'DUPLICATE_HOST' }));
    return 2;
  }
  const name = METHODS[method];
  if (name === undefined || name === 'CONNECT') {
    // A reverse proxy opens no tunnels.
    c.parseError(Object.assign(new Error(`method ${name ?? method} not served`), { code: 'UNSUPPORTED_METHOD' }));
    return 2;
  }
  const req = new ProxyRequest(name, url, headers, map, c.socket, minor);
  if (!shouldKeepAlive) c.keepAlive = false;
  const len = map['content-length'];
  const hasBody = map['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
  if (upgrade) {
    // The new protocol starts right after the head; a body in between has no defined meaning.
    if (hasBody) c.parseError(Object.assign(new Error('upgrade request with a body'), { code: 'UPGRADE_WITH_BODY' }));
    else c.onHead(req, true);
    return 2;
  }
  if (hasBody) req.body = new RequestBody(c);
  c.onHead(req, false);
  return 0;
}

function onBody(this: NativeParser<ServerConnection>, chunk: Buffer): void {
  const c = this.conn;
  const body = c?.parsing?.body;
  if (!c || !body) return;
  if (!body.push(chunk)) c.pauseReading();
}

function onMessageComplete(this: NativeParser<ServerConnection>): void {
  // A chunked body's trailer fields arrive through onHeaders too: they are not forwarded, and
  // must not open the next request's header block on this connection.
  this.partial = undefined;
  this.partialUrl = '';
  const c = this.conn;
  const req = c?.parsing;
  if (!c || !req) return;
  req.complete = true;
  c.parsing = undefined;
  req.body?.push(null);
}

const CALLBACKS = { onMessageBegin, onHeaders, onHeadersComplete, onBody, onMessageComplete };

/** Accepts connections from a net or tls server and serves them. */
export class LeanServer {
  readonly opts: ServerOptions;
  readonly onRequest: RequestHandler;
  readonly onUpgrade: UpgradeHandler;
  private readonly connections = new Set<ServerConnection>();
  private sweeper: NodeJS.Timeout | undefined = undefined;

  constructor(opts: ServerOptions, onRequest: RequestHandler, onUpgrade: UpgradeHandler) {
    this.opts = opts;
    this.onRequest = onRequest;
    this.onUpgrade = onUpgrade;
  }

  accept(socket: Socket): void {
    const conn = new ServerConnection(this, socket);
    this.connections.add(conn);
    if (!this.sweeper) {
      const every = Math.max(50, Math.min(1_000, this.opts.keepAliveTimeoutMs / 4, this.opts.headersTimeoutMs / 4));
      this.sweeper = setInterval(() => this.sweep(), every).unref();
    }
  }

  forget(conn: ServerConnection): void {
    this.connections.delete(conn);
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.connections) c.check(now);
  }

  /** Open connections being served. */
  get size(): number {
    return this.connections.size;
  }

  /** Closes idle connections now and busy ones after their exchange; `destroyAll` cuts what is left. */
  shutdown(): void {
    for (const c of [...this.connections]) c.shutdown();
  }

  destroyAll(): void {
    for (const c of [...this.connections]) c.destroy();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
