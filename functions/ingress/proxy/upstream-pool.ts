// The proxy's upstream HTTP/1.1 client: a keep-alive pool per endpoint of undici Clients (one
// connection each, no pipelining), reused most-recent first. undici frames every body, checks the
// response's framing strictly, waits a turn of the event loop before reusing a connection (so a
// close the server sent meanwhile is seen first), and never reuses one whose response ended before
// the request was all sent or said or implied close. This pool adds two rules of its own: a
// connection whose upstream may have left part of a request body unread (it answered before the
// body was all written, or refused a request with a body) is closed after the exchange; and it
// knows which exchanges ran on a reused connection, so that a bodiless or buffered idempotent
// request whose reused connection closed before any response byte is sent again, once, on a
// fresh connection.
//
// Why undici and not node's http.Agent: in alternating runs of the proxy under wrk, the Agent's
// ClientRequest and IncomingMessage per exchange took 1.5-1.7 times undici's CPU per proxied
// request (195-244 against 132-141 µs on a loaded machine). The price is memory: undici's package
// entry loads all of undici (fetch, WebSocket, caches), about 20 MB of RSS the proxy never uses.
// @see https://www.rfc-editor.org/rfc/rfc9112#section-9.3 (persistence), #section-9.3.1 (retrying requests)
import { Readable } from 'node:stream';
import { Client } from 'undici';
import type { Dispatcher } from 'undici';
import type { UpstreamTls } from '../engine/backend-tls.js';
import type { RequestBody, StreamedBody } from './request-body.js';
import { upstreamTlsOptions } from './upstream-tls.js';
import { replayable } from './request-body.js';

/** One exchange to send. `headers` is a flat [name, value, ...] list that includes `host`. */
export interface UpstreamRequest {
  method: string;
  /** The request-target (origin form). */
  path: string;
  headers: string[];
  body: RequestBody;
  /** A streamed body longer than this fails the exchange with BODY_TOO_LARGE (the route's limit). */
  maxBodyBytes?: number | undefined;
  /** Where the largest amount of a streamed body held at once is kept. */
  flow?: FlowCounters | undefined;
  /** This exchange's deadline for the response head, and between reads of its body (the pool's otherwise). */
  firstByteMs?: number | undefined;
  idleMs?: number | undefined;
}

/** Receives one exchange's outcome; exactly one of `onComplete` / `onError` ends it. */
export interface UpstreamHandler {
  /**
   * Final response head (1xx are consumed here): its fields as the parser's flat list of raw
   * bytes (name, value, ...). Return false to abandon the exchange.
   */
  onHeaders(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
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
  /** Most connections open to one endpoint; more requests wait in a queue. */
  connections: number;
  /** Longest a request waits in that queue before it fails with UPSTREAM_QUEUE_TIMEOUT. */
  queueMs: number;
  /** Idle time allowed while an exchange is in flight: for the response head, and between body chunks. */
  idleMs: number;
  /** How long an idle keep-alive connection is kept (a server's `Keep-Alive: timeout` hint shortens it). */
  keepAliveMs: number;
  connectTimeoutMs: number;
  /** Largest response head. */
  maxHeaderBytes: number;
}

/**
 * The most bytes the proxy held for one exchange, in each direction: what backpressure bounds.
 * Response bytes are those written to a client response and not yet taken by its socket's kernel
 * buffer (`writableLength`); request bytes those read from a client and not yet taken by the
 * upstream connection's writer.
 */
export interface FlowCounters {
  responsePeak: number;
  requestPeak: number;
}

/** An error with a machine-readable code, as node's and undici's errors carry. */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The error an exchange ends with when its client stopped sending the request body. */
export const CLIENT_ABORTED = 'CLIENT_ABORTED';
/** The error an exchange ends with when it waited for a connection past the queue deadline. */
export const QUEUE_TIMEOUT = 'UPSTREAM_QUEUE_TIMEOUT';
/** The error an exchange ends with when its client sent more body than the route takes. */
export const BODY_TOO_LARGE = 'BODY_TOO_LARGE';

/** Methods that may be sent again when a reused connection turns out closed before any answer (RFC 9110 §9.2.2). */
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** How a connection that was open when taken from the pool turns out closed. */
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** A client's body past the buffered head, as undici reads a stream: pausing it pauses the client. */
class ForwardedBody extends Readable {
  private readonly source: StreamedBody;
  private readonly max: number;
  private started = false;
  /** Bytes handed on so far. */
  private bytes = 0;

  private readonly flow: FlowCounters | undefined;

  constructor(source: StreamedBody, max: number | undefined, flow: FlowCounters | undefined) {
    super({ highWaterMark: 65_536 });
    this.source = source;
    this.max = max ?? Infinity;
    this.flow = flow;
  }

  /** Hands `chunk` on unless the body grows past the limit; false to pause the client. */
  private forward(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.bytes > this.max) {
      this.source.rest.pause();
      this.destroy(new UpstreamError(BODY_TOO_LARGE, 'the request body is larger than the route takes'));
      return false;
    }
    const more = this.push(chunk);
    const flow = this.flow;
    if (flow !== undefined) {
      const held = this.readableLength + this.source.rest.readableLength;
      if (held > flow.requestPeak) flow.requestPeak = held;
    }
    return more;
  }

  override _read(): void {
    const rest = this.source.rest;
    if (this.started) {
      rest.resume();
      return;
    }
    this.started = true;
    if (rest.destroyed && !rest.readableEnded) {
      this.destroy(new UpstreamError(CLIENT_ABORTED, 'the client stopped sending the request body'));
      return;
    }
    for (const chunk of this.source.head) if (!this.destroyed) this.forward(chunk);
    if (this.destroyed) return;
    rest.on('data', (chunk: Buffer) => {
      if (!this.destroyed && !this.forward(chunk)) rest.pause();
    });
    rest.on('end', () => this.push(null));
    rest.on('close', () => {
      if (this.destroyed) return;
      // Cut short (the client went away, or node refused the rest of its framing): the upstream
      // must never see it end as if complete.
      if (!rest.readableEnded) this.destroy(new UpstreamError(CLIENT_ABORTED, 'the client stopped sending the request body'));
    });
    rest.resume();
  }
}

/** One keep-alive connection: an undici Client, which opens a new socket when its last one closed. */
class Connection {
  readonly pool: EndpointPool;
  readonly client: Client;
  /** Exchanges finished on the current socket: a later one may meet a server-side idle close. */
  served = 0;
  busy = false;
  /** A socket is open (undici opens one when a request comes and none is). */
  connected = false;

  constructor(pool: EndpointPool) {
    this.pool = pool;
    this.client = new Client(pool.origin, pool.clientOptions);
    this.client.on('connect', () => (this.connected = true));
    this.client.on('disconnect', () => {
      this.connected = false;
      this.served = 0;
      // An idle connection the server or the keep-alive timer closed leaves the pool.
      if (!this.busy) pool.remove(this);
    });
    // A failed connect reaches the request too; the event needs a listener of its own.
    this.client.on('connectionError', () => {});
  }
}

/** Connections to one endpoint, with the requests waiting for one. */
class EndpointPool {
  readonly origin: string;
  readonly clientOptions: Client.Options;
  /** SNI of every request on a TLS pool (undici would take it from each request's Host otherwise). */
  readonly servername: string | undefined;
  readonly max: number;
  readonly queueMs: number;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Exchange[] = [];

  constructor(origin: string, opts: PoolOptions, tls: UpstreamTls | undefined) {
    this.origin = origin;
    this.servername = tls?.servername;
    this.max = opts.connections;
    this.queueMs = opts.queueMs;
    this.clientOptions = {
      pipelining: 1,
      keepAliveTimeout: opts.keepAliveMs,
      headersTimeout: opts.idleMs,
      bodyTimeout: opts.idleMs,
      connectTimeout: opts.connectTimeoutMs,
      maxHeaderSize: opts.maxHeaderBytes,
      strictContentLength: true,
      ...(tls ? { connect: upstreamTlsOptions(tls) } : {}),
    };
  }

  /** Runs `ex` on an idle connection (most recent first), a new one, or after the ones before it. */
  dispatch(ex: Exchange, fresh: boolean): void {
    let conn = fresh ? undefined : this.idle.pop();
    if (conn === undefined) {
      if (this.all.size >= this.max && !fresh) {
        this.queue.push(ex);
        // Past the deadline the request fails rather than wait on for connections others hold.
        ex.queueTimer = setTimeout(() => {
          this.unqueue(ex);
          ex.fail(new UpstreamError(QUEUE_TIMEOUT, 'no upstream connection came free in time'));
        }, this.queueMs);
        return;
      }
      conn = new Connection(this);
      this.all.add(conn);
    }
    ex.run(conn);
  }

  /** An exchange finished with `conn`: the next waiting one takes it, or it waits idle (when still open). */
  release(conn: Connection): void {
    if (!this.all.has(conn)) return;
    const next = this.queue.shift();
    if (next !== undefined) return next.run(conn);
    conn.busy = false;
    if (conn.connected) this.idle.push(conn);
    else this.remove(conn);
  }

  /** Closes `conn` for good; a waiting exchange may then open a connection of its own. */
  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    conn.busy = false;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    void conn.client.destroy().catch(() => {});
    const next = this.queue.shift();
    if (next !== undefined) this.dispatch(next, false);
  }

  unqueue(ex: Exchange): void {
    clearTimeout(ex.queueTimer);
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  close(): Promise<void> {
    const closed = () => new UpstreamError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed');
    for (const ex of this.queue.splice(0)) ex.fail(closed());
    const clients = [...this.all].map((c) => c.client);
    this.all.clear();
    this.idle.length = 0;
    return Promise.all(clients.map((c) => c.destroy(closed()).catch(() => {}))).then(() => {});
  }

  /** Open connections (for tests and metrics). */
  get size(): number {
    return this.all.size;
  }
}

/** One exchange, as undici's dispatch handler. */
class Exchange implements Dispatcher.DispatchHandler, UpstreamCall {
  readonly pool: EndpointPool;
  readonly req: UpstreamRequest;
  readonly handler: UpstreamHandler;
  conn: Connection | undefined = undefined;
  /** Ran on a connection that had served an exchange before. */
  reused = false;
  replayed = false;
  /** Some response byte arrived. */
  answered = false;
  /** The request was all written. */
  sent = false;
  /** The upstream may not have read all of the request body: the connection is not reused. */
  unread = false;
  ended = false;
  /** Inside undici's dispatch: an error it reports synchronously is passed on a tick later. */
  dispatching = false;
  abortFn: ((err?: Error) => void) | undefined = undefined;
  /** An abort asked for before undici handed over its abort function. */
  pendingAbort: Error | undefined = undefined;
  /** Armed while the exchange waits in its pool's queue. */
  queueTimer: NodeJS.Timeout | undefined = undefined;

  constructor(pool: EndpointPool, req: UpstreamRequest, handler: UpstreamHandler) {
    this.pool = pool;
    this.req = req;
    this.handler = handler;
  }

  run(conn: Connection): void {
    clearTimeout(this.queueTimer);
    this.conn = conn;
    conn.busy = true;
    this.reused = conn.served > 0;
    this.answered = false;
    this.sent = false;
    this.unread = false;
    this.abortFn = undefined;
    const r = this.req;
    const body = r.body;
    this.dispatching = true;
    conn.client.dispatch(
      {
        path: r.path,
        method: r.method as Dispatcher.HttpMethod,
        headers: r.headers,
        body: body === null || Buffer.isBuffer(body) ? body : new ForwardedBody(body, r.maxBodyBytes, r.flow),
        ...(r.firstByteMs !== undefined ? { headersTimeout: r.firstByteMs } : {}),
        ...(r.idleMs !== undefined ? { bodyTimeout: r.idleMs } : {}),
        ...(this.pool.servername !== undefined ? { servername: this.pool.servername } : {}),
      },
      this,
    );
    this.dispatching = false;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.pendingAbort) abort(this.pendingAbort);
    else this.abortFn = abort;
  }

  onRequestSent(): void {
    this.sent = true;
  }

  onResponseStarted(): void {
    this.answered = true;
    // Answered before the request was all written.
    if (!this.sent) this.unread = true;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx: informational, the final response follows on the same exchange.
    if (status < 200 || this.ended) return !this.ended;
    // A refusal of a request with a body (413, 401, ...) is often sent without reading the body,
    // though the body had all been written by then.
    if (status >= 400 && this.req.body !== null) this.unread = true;
    if (!this.handler.onHeaders(status, raw, resume, statusText)) {
      this.abort(new UpstreamError('UPSTREAM_ABORTED', 'exchange abandoned'));
      return false;
    }
    // "Any response with a 1xx, 204, or 304 status code is always terminated by the first empty
    // line after the header fields" (RFC 9112 §6.3): the exchange is over for the handler now.
    // (undici would fail a 304 that carries the Content-Length of the representation, which RFC
    // 9110 §8.6 allows; that failure only closes the connection.)
    if (status === 204 || status === 304) this.complete();
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.ended || this.handler.onData(chunk);
  }

  onComplete(): void {
    const conn = this.conn!;
    conn.served++;
    // undici closes a connection whose response ended while the request was still being written;
    // one whose upstream may have left part of the body unread is not trusted either (its next
    // request would be read from the middle of that body, or meet the close that follows).
    if (this.unread) this.pool.remove(conn);
    else this.pool.release(conn);
    this.complete();
  }

  /** The response is all there: the handler hears it once. */
  complete(): void {
    if (this.ended) return;
    this.ended = true;
    this.handler.onComplete();
  }

  onError(err: Error): void {
    // Never from inside dispatch(): the caller holds the returned call before any outcome.
    if (this.dispatching) {
      process.nextTick(() => this.onError(err));
      return;
    }
    const conn = this.conn;
    if (conn !== undefined) this.pool.release(conn);
    if (this.ended) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (this.reused && !this.answered && !this.replayed && conn !== undefined && CONNECTION_LOST.has(code) && REPLAYABLE.has(this.req.method) && replayable(this.req.body)) {
      // The upstream closed an idle keep-alive connection as we wrote to it: nothing came back,
      // and the request may be sent again (RFC 9112 §9.3.1), once, on a connection of its own.
      this.replayed = true;
      process.nextTick(() => {
        if (!this.ended) this.pool.dispatch(this, true);
      });
      return;
    }
    this.ended = true;
    this.handler.onError(err);
  }

  /** Ends the exchange with `err` without undici (still queued, or closing). */
  fail(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.handler.onError(err);
  }

  abort(err?: Error): void {
    if (this.ended) return;
    const reason = err ?? new UpstreamError('UPSTREAM_ABORTED', 'exchange aborted');
    if (this.conn === undefined) {
      // Still waiting for a connection.
      this.pool.unqueue(this);
      process.nextTick(() => this.fail(reason));
      return;
    }
    this.ended = true;
    if (this.abortFn) this.abortFn(reason);
    else this.pendingAbort = reason;
    this.handler.onError(reason);
  }
}

/** Pools for every endpoint, created on first use. */
export class UpstreamPools {
  readonly opts: PoolOptions;
  private readonly pools = new Map<string, EndpointPool>();
  private closed = false;

  constructor(opts: PoolOptions) {
    this.opts = opts;
  }

  /** Sends `req` to host:port; the handler hears how it ends. */
  dispatch(host: string, port: number, req: UpstreamRequest, handler: UpstreamHandler, tls?: UpstreamTls): UpstreamCall {
    // Endpoints spoken to with different TLS settings (or none) never share a connection.
    const key = tls === undefined ? `${host}:${port}` : `${host}:${port}|${tls.key}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      const origin = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
      this.pools.set(key, (pool = new EndpointPool(origin, this.opts, tls)));
    }
    const ex = new Exchange(pool, req, handler);
    if (this.closed) process.nextTick(() => ex.fail(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed')));
    else pool.dispatch(ex, false);
    return ex;
  }

  /** Open connections to host:port. */
  size(host: string, port: number, tls?: UpstreamTls): number {
    return this.pools.get(tls === undefined ? `${host}:${port}` : `${host}:${port}|${tls.key}`)?.size ?? 0;
  }

  /** Closes every connection; exchanges in flight or waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}
