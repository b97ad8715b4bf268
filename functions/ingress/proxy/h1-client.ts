// The proxy's upstream HTTP/1.1 client: a keep-alive connection pool per endpoint. A request goes
// out as one head string (and its body streamed after it, chunked when its length is unknown); the
// response is parsed by node's own llhttp binding, the parser node's http client and server use,
// with its strict defaults (no lenient flags): duplicate or conflicting lengths, bad chunk sizes and
// bare line feeds are errors. No per-request stream objects: the handler gets the head, then body
// chunks as they arrive, and pauses the connection by returning false from `onData`.
//
// Why not undici: its per-request bookkeeping and its WebAssembly parser cost about a third of the
// proxy's CPU per request; this client does only what a proxy hop needs.
// The parser binding itself is in ./llhttp.ts.
// @see https://www.rfc-editor.org/rfc/rfc9112 (message syntax, framing, connection reuse)
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createParser, MAX_HEADER_PAIRS } from './llhttp.js';
import type { NativeParser } from './llhttp.js';

/** One exchange to send. `headers` is a flat [name, value, ...] list that includes `host`. */
export interface UpstreamRequest {
  method: string;
  /** The request-target (origin form). */
  path: string;
  headers: string[];
  /** The body to stream, or null when the request has none. */
  body: Readable | null;
}

/** Receives one exchange's outcome; exactly one of `onComplete` / `onError` ends it. */
export interface UpstreamHandler {
  /** Final response head (1xx are consumed here). Return false to abandon the exchange. */
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean;
  /** A body chunk; false asks for a pause until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
}

/** A dispatched exchange; `abort` ends it (the connection is closed, never reused). */
export interface UpstreamCall {
  abort(err?: Error): void;
}

export interface PoolOptions {
  /** Most connections open to this endpoint; more requests wait in a queue. */
  connections: number;
  /** Idle time (no bytes either way) allowed while an exchange is in flight. */
  idleMs: number;
  /** How long an idle keep-alive connection is kept (below the usual servers' 5 s). */
  keepAliveMs: number;
  connectTimeoutMs: number;
  /** Largest response head. */
  maxHeaderBytes: number;
}

/** An error with a machine-readable code, as node's socket errors carry. */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}


/** Where every upstream socket reads (see Connection). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Methods that may be sent again when a reused connection turns out closed before any answer. */
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** A header name or value or a request-target we would refuse to put on the wire. */
const UNSAFE = /[\0\r\n]/;

/** One in-flight exchange on a connection. */
class Exchange implements UpstreamCall {
  readonly pool: Pool;
  readonly req: UpstreamRequest;
  readonly handler: UpstreamHandler;
  conn: Connection | undefined = undefined;
  /** Sent once already on a reused connection that closed before answering. */
  replayed = false;
  ended = false;

  constructor(pool: Pool, req: UpstreamRequest, handler: UpstreamHandler) {
    this.pool = pool;
    this.req = req;
    this.handler = handler;
  }

  abort(err?: Error): void {
    if (this.ended) return;
    const conn = this.conn;
    if (conn) conn.fail(err ?? new UpstreamError('UPSTREAM_ABORTED', 'exchange aborted'), false);
    else {
      this.pool.unqueue(this);
      this.end(err ?? new UpstreamError('UPSTREAM_ABORTED', 'exchange aborted'));
    }
  }

  /** Ends the exchange with an error (at most once). */
  end(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.handler.onError(err);
  }
}

/** One keep-alive connection and its response parser. */
class Connection {
  readonly pool: Pool;
  readonly socket: Socket;
  readonly parser: NativeParser<Connection>;
  ex: Exchange | undefined = undefined;
  connected = false;
  dead = false;
  /** Exchanges this connection has finished: a later one may meet a server-side idle close. */
  served = 0;
  idleSince = 0;
  // Per-exchange state.
  headersSeen = false;
  informational = false;
  keepAlive = false;
  /** Any response byte arrived for the current exchange. */
  answered = false;
  paused = false;
  /** The idle timer fired while paused: it does not fire again until it is re-armed. */
  stalledWhilePaused = false;
  /** The response finished inside the current `execute`; the connection is released after it. */
  completed = false;
  /** The request body still being sent (it may outlive its exchange when answered early). */
  body: Readable | null = null;
  chunked = false;
  readonly resume: () => void;
  readonly onBodyData: (chunk: Buffer) => void;
  readonly onBodyEnd: () => void;
  readonly onBodyAbort: () => void;
  readonly onDrain: () => void;

  constructor(pool: Pool) {
    this.pool = pool;
    // Reads land in one buffer shared by every upstream socket, not in a fresh 64 KB allocation
    // per read: each read is parsed before the next one, and the parser copies what it hands on
    // (header strings, body chunks).
    const socket = connect({
      host: pool.host,
      port: pool.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.onSocketData((buf as Buffer).subarray(0, n));
          // Pausing is onSocketData's own call (socket.pause()), not this return value's.
          return true;
        },
      },
    });
    this.socket = socket;
    socket.setTimeout(pool.opts.connectTimeoutMs);
    this.parser = createParser('RESPONSE', this, pool.opts.maxHeaderBytes, CALLBACKS);
    this.resume = () => {
      if (!this.paused) return;
      this.paused = false;
      if (this.dead) return;
      if (this.stalledWhilePaused) {
        this.stalledWhilePaused = false;
        this.socket.setTimeout(this.pool.opts.idleMs);
      }
      this.socket.resume();
    };
    this.onBodyData = (chunk) => this.sendBody(chunk);
    this.onBodyEnd = () => this.bodyEnded();
    this.onBodyAbort = () => this.fail(new UpstreamError('UPSTREAM_BODY_ABORTED', 'the client stopped sending the request body'), false);
    this.onDrain = () => this.body?.resume();
    socket.on('connect', () => {
      this.connected = true;
      socket.setTimeout(pool.opts.idleMs);
    });
    socket.on('end', () => this.onSocketEnd());
    socket.on('timeout', () => this.onTimeout());
    socket.on('error', (err) => this.fail(err, true));
    socket.on('close', () => this.fail(new UpstreamError('ECONNRESET', 'upstream connection closed'), true));
  }

  /** Writes the request and attaches its body. */
  start(ex: Exchange): void {
    const req = ex.req;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    // The path, names and values, checked in one pass once the head is built.
    let fields = req.path;
    let hasLength = false;
    const h = req.headers;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      const value = h[i + 1]!;
      fields += name + value;
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      head += `${name}: ${value}\r\n`;
    }
    if (UNSAFE.test(fields)) {
      // Only a filter's output could get here (client input is parsed strictly): refuse, never inject.
      this.pool.release(this);
      // Never from inside dispatch(): the caller holds the returned call before any outcome.
      process.nextTick(() => ex.end(new UpstreamError('UPSTREAM_INVALID_REQUEST', 'a header field or the path holds a line break or NUL')));
      return;
    }
    this.ex = ex;
    ex.conn = this;
    this.headersSeen = false;
    this.informational = false;
    this.keepAlive = false;
    this.answered = false;
    this.completed = false;
    this.paused = false;
    this.stalledWhilePaused = false;
    const body = req.body;
    if (!body) {
      this.socket.write(head + '\r\n', 'latin1');
      return;
    }
    this.body = body;
    this.chunked = !hasLength;
    this.socket.write(this.chunked ? head + 'transfer-encoding: chunked\r\n\r\n' : head + '\r\n', 'latin1');
    body.on('data', this.onBodyData);
    body.on('end', this.onBodyEnd);
    body.on('close', this.onBodyAbort);
    body.on('error', this.onBodyAbort);
    this.socket.on('drain', this.onDrain);
    body.resume();
  }

  sendBody(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    let ok: boolean;
    if (this.chunked) {
      const s = this.socket;
      s.cork();
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else ok = this.socket.write(chunk);
    if (!ok) this.body?.pause();
  }

  bodyEnded(): void {
    this.detachBody();
    if (this.dead) return;
    if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
  }

  detachBody(): void {
    const body = this.body;
    if (!body) return;
    this.body = null;
    body.off('data', this.onBodyData);
    body.off('end', this.onBodyEnd);
    body.off('close', this.onBodyAbort);
    body.off('error', this.onBodyAbort);
    this.socket.off('drain', this.onDrain);
  }

  onSocketData(d: Buffer): void {
    if (!this.ex) {
      // Bytes nobody asked for: the connection's framing cannot be trusted any more.
      this.fail(new UpstreamError('UPSTREAM_UNSOLICITED', 'the upstream sent bytes between exchanges'), false);
      return;
    }
    this.answered = true;
    const ret = this.parser.execute(d);
    if (this.dead) return;
    if (ret instanceof Error) {
      const code = (ret as NodeJS.ErrnoException).code ?? 'HPE_ERROR';
      this.fail(new UpstreamError(code, `invalid upstream response: ${(ret as Error & { reason?: string }).reason ?? ret.message}`), false);
      return;
    }
    if (this.completed) this.afterResponse();
    else if (this.paused) this.socket.pause();
  }

  onSocketEnd(): void {
    // A response without a length ends with the connection.
    if (this.ex && this.headersSeen) {
      const ret = this.parser.finish();
      if (ret instanceof Error) {
        this.fail(new UpstreamError('UPSTREAM_TRUNCATED', 'the upstream closed the connection inside a response'), false);
        return;
      }
    }
    this.completed = false;
    this.fail(new UpstreamError('ECONNRESET', 'the upstream closed the connection'), true);
  }

  onTimeout(): void {
    // A paused response waits for the client, not for the upstream.
    if (this.paused) {
      this.stalledWhilePaused = true;
      return;
    }
    if (!this.ex) {
      this.fail(new UpstreamError('UPSTREAM_IDLE', 'idle connection timed out'), false);
      return;
    }
    const err = !this.connected
      ? new UpstreamError('UPSTREAM_CONNECT_TIMEOUT', 'connecting to the upstream timed out')
      : !this.headersSeen
        ? new UpstreamError('UPSTREAM_HEADERS_TIMEOUT', 'the upstream sent no response head in time')
        : new UpstreamError('UPSTREAM_BODY_TIMEOUT', 'the upstream response body stalled');
    this.fail(err, false);
  }

  /** The response is complete: hand the connection back, or close it. */
  afterResponse(): void {
    this.completed = false;
    // A pause asked for by the finished exchange's last chunk does not outlive it.
    this.paused = false;
    if (this.dead) return;
    // Answered before the request body was all sent (an early 413, say): the connection cannot be reused.
    if (this.keepAlive && this.body === null) {
      this.served++;
      this.pool.release(this);
    } else this.fail(new UpstreamError('UPSTREAM_CLOSED', 'connection not reusable'), false);
  }

  /**
   * Ends the connection's exchange with `err` (when one is in flight) and closes the connection.
   * `fromSocket`: the error came from the socket itself, so a reused connection that had not
   * answered may be replayed on a fresh one.
   */
  fail(err: Error, fromSocket: boolean): void {
    const ex = this.ex;
    this.ex = undefined;
    this.detachBody();
    if (!this.dead) {
      this.dead = true;
      this.socket.destroy();
      const parser = this.parser;
      parser.conn = undefined;
      // Not from inside the parser's own callback stack.
      setImmediate(() => parser.close());
      this.pool.forget(this);
    }
    if (!ex || ex.ended) return;
    ex.conn = undefined;
    if (fromSocket && this.served > 0 && !this.answered && !ex.replayed && ex.req.body === null && REPLAYABLE.has(ex.req.method)) {
      // The server closed an idle keep-alive connection as we wrote: nothing was processed.
      ex.replayed = true;
      this.pool.dispatchExchange(ex, true);
      return;
    }
    ex.end(err);
  }
}

function onMessageBegin(this: NativeParser<Connection>): void {
  const c = this.conn;
  // A second response to one request: never handed to the next exchange.
  if (c && !c.ex) c.fail(new UpstreamError('UPSTREAM_UNSOLICITED', 'the upstream sent an unsolicited response'), false);
}

function onHeaders(this: NativeParser<Connection>, headers: string[]): void {
  const acc = (this.partial ??= []);
  if (acc.length + headers.length > MAX_HEADER_PAIRS * 2) {
    this.conn?.fail(new UpstreamError('UPSTREAM_TOO_MANY_HEADERS', 'the upstream response has too many header lines'), false);
    return;
  }
  for (const h of headers) acc.push(h);
}

function onHeadersComplete(
  this: NativeParser<Connection>,
  _major: number,
  _minor: number,
  headers: string[] | undefined,
  _method: unknown,
  _url: unknown,
  status: number,
  statusText: string,
  upgrade: boolean,
  shouldKeepAlive: boolean,
): number {
  const c = this.conn;
  const ex = c?.ex;
  if (!c || !ex) return 2;
  if (headers === undefined) {
    headers = this.partial ?? [];
    this.partial = undefined;
  }
  // llhttp flags `upgrade` only when a 101 carries Upgrade and Connection: upgrade, yet any 101 ends
  // HTTP on this connection: the bytes after its head belong to another protocol. Our requests never
  // ask to upgrade. RFC 9110 §7.8: "A server MUST NOT switch to a protocol that was not indicated by
  // the client in the corresponding request's Upgrade header field."
  if (upgrade || status === 101) {
    c.fail(new UpstreamError('UPSTREAM_UNEXPECTED_UPGRADE', 'the upstream switched protocols on a plain request'), false);
    return 2;
  }
  if (status < 200) {
    // 1xx: informational, the final response follows on the same exchange.
    c.informational = true;
    return 1;
  }
  c.informational = false;
  c.headersSeen = true;
  c.keepAlive = shouldKeepAlive;
  if (!ex.handler.onHeaders(status, headers, c.resume, statusText)) {
    c.fail(new UpstreamError('UPSTREAM_ABORTED', 'exchange abandoned'), false);
    return 2;
  }
  return ex.req.method === 'HEAD' || status === 304 ? 1 : 0;
}

function onBody(this: NativeParser<Connection>, chunk: Buffer): void {
  const c = this.conn;
  const ex = c?.ex;
  if (!c || !ex) return;
  if (!ex.handler.onData(chunk)) c.paused = true;
}

function onMessageComplete(this: NativeParser<Connection>): void {
  // Trailer fields arrive through onHeaders too. They are not forwarded, and left in `partial` they
  // would head the next response's header list whenever the binding hands that head over in pieces.
  this.partial = undefined;
  const c = this.conn;
  const ex = c?.ex;
  if (!c || !ex) return;
  if (c.informational) {
    c.informational = false;
    return;
  }
  c.ex = undefined;
  ex.conn = undefined;
  ex.ended = true;
  c.completed = true;
  ex.handler.onComplete();
}

const CALLBACKS = { onMessageBegin, onHeaders, onHeadersComplete, onBody, onMessageComplete };

/** Connections to one endpoint (host and port). */
export class Pool {
  readonly host: string;
  readonly port: number;
  readonly opts: PoolOptions;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Exchange[] = [];
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined = undefined;

  constructor(host: string, port: number, opts: PoolOptions) {
    this.host = host;
    this.port = port;
    this.opts = opts;
  }

  /** Sends `req`; the handler hears how it ends. */
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): UpstreamCall {
    const ex = new Exchange(this, req, handler);
    this.dispatchExchange(ex, false);
    return ex;
  }

  dispatchExchange(ex: Exchange, fresh: boolean): void {
    if (this.closed) {
      process.nextTick(() => ex.end(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed')));
      return;
    }
    if (!fresh) {
      const conn = this.idle.pop();
      if (conn) return conn.start(ex);
    }
    if (this.all.size < this.opts.connections) {
      const conn = new Connection(this);
      this.all.add(conn);
      conn.start(ex);
      return;
    }
    this.queue.push(ex);
  }

  /** A connection finished its exchange and may take the next. */
  release(conn: Connection): void {
    if (conn.dead) return;
    const next = this.queue.shift();
    if (next) return conn.start(next);
    if (this.closed) {
      conn.fail(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed'), false);
      return;
    }
    conn.idleSince = performance.now();
    this.idle.push(conn);
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(250, this.opts.keepAliveMs / 4)).unref();
  }

  /** A connection closed: it leaves the pool, and a waiting exchange may open a new one. */
  forget(conn: Connection): void {
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.queue.shift();
    if (next) this.dispatchExchange(next, true);
  }

  unqueue(ex: Exchange): void {
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Closes keep-alive connections idle longer than `keepAliveMs` (the oldest are at the bottom). */
  private sweep(): void {
    const limit = performance.now() - this.opts.keepAliveMs;
    while (this.idle.length > 0 && this.idle[0]!.idleSince <= limit) this.idle.shift()!.fail(new UpstreamError('UPSTREAM_IDLE', 'keep-alive timeout'), false);
    if (this.idle.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Closes every connection and fails waiting exchanges. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const ex of this.queue.splice(0)) ex.end(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed'));
    this.idle.length = 0;
    for (const c of [...this.all]) c.fail(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed'), false);
  }

  /** Open connections (for tests and metrics). */
  get size(): number {
    return this.all.size;
  }
}
