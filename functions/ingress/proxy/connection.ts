// One client connection of node's http server, as the proxy serves it: requests answered one at a
// time in the order they came (pipelined ones wait, with the socket's reading paused), and the
// answer a request gets when node's parser or its deadlines refuse it mid-way.
// @see https://www.rfc-editor.org/rfc/rfc9112#section-9.3.2 (pipelining: responses in request order)
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorFormat } from '../engine/table.js';
import { localReply, rawProblem } from './local-reply.js';

/**
 * Pipelined requests a connection may have waiting behind the one being answered. Node parses a
 * whole read (up to 64 KB, a thousand small requests) before the pause takes effect, and resumes
 * the socket itself once it drains: a client that keeps pipelining without reading past this many
 * is cut, so that what one connection holds stays bounded.
 */
export const MAX_PIPELINED = 32;

/** What the request handler leaves on the connection for the exchange it serves. */
export interface ExchangeHooks {
  /** The response closed (finished, or cut with the connection). */
  closed(): void;
  /** The client broke the request off (bad body framing, body deadline): stop the upstream work. */
  cancel(): void;
}

export type ExchangeHandler = (req: IncomingMessage, res: ServerResponse, conn: ClientConnection) => void;

/** A parse or deadline error as node's http server reports it to `clientError`. */
type ClientError = Error & { code?: string; rawPacket?: unknown };

/** The error format for a head the parser refused, from the bytes it was parsing (./refusal-format.ts). */
export type RefusalFormatOf = (rawPacket: unknown) => ErrorFormat;

export class ClientConnection {
  readonly socket: Socket;
  private readonly handler: ExchangeHandler;
  private readonly refusalFormatOf: RefusalFormatOf | undefined;
  /** The request being answered, and its response. */
  private activeReq: IncomingMessage | undefined = undefined;
  private activeRes: ServerResponse | undefined = undefined;
  /** The handler's hooks for the exchange in flight. */
  hooks: ExchangeHooks | undefined = undefined;
  /** The request node parsed last: an error while it is incomplete is an error in its body. */
  private lastReq: IncomingMessage | undefined = undefined;
  private readonly waiting: [IncomingMessage, ServerResponse][] = [];
  private pausedForPipelining = false;
  /** A refusal is on its way out: nothing more is read or answered. */
  private failed = false;
  /** The listener is closing: the exchange in flight is the connection's last. */
  private draining = false;
  private readonly onResponseClose: () => void;

  constructor(socket: Socket, handler: ExchangeHandler, refusalFormatOf?: RefusalFormatOf) {
    this.socket = socket;
    this.handler = handler;
    this.refusalFormatOf = refusalFormatOf;
    this.onResponseClose = () => this.exchangeClosed();
  }

  /**
   * The listener is closing: the exchange in flight is answered with `Connection: close` and the
   * connection closes after it (RFC 9112 §9.6); an idle one closes now.
   */
  drain(): void {
    this.draining = true;
    const res = this.activeRes;
    if (res !== undefined) {
      if (!res.headersSent) res.setHeader('connection', 'close');
    } else if (this.lastReq !== undefined) this.socket.end();
  }

  /** Node's `request` event for this connection. */
  receive(req: IncomingMessage, res: ServerResponse): void {
    this.lastReq = req;
    if (this.failed || this.socket.destroyed) return;
    if (this.activeRes === undefined) return this.start(req, res);
    if (this.waiting.length >= MAX_PIPELINED) {
      this.socket.destroy();
      return;
    }
    this.waiting.push([req, res]);
    if (!this.pausedForPipelining) {
      this.pausedForPipelining = true;
      // After the read being parsed: node resumes the socket as each message of it completes.
      process.nextTick(pauseReading, this);
    }
  }

  /** Reading is held back for pipelined requests. */
  get readingPaused(): boolean {
    return this.pausedForPipelining;
  }

  /** Whether an upgrade may take the socket over: only when no exchange is in flight before it. */
  mayUpgrade(): boolean {
    return this.activeRes === undefined && this.waiting.length === 0 && !this.failed;
  }

  private start(req: IncomingMessage, res: ServerResponse): void {
    this.activeReq = req;
    this.activeRes = res;
    this.hooks = undefined;
    res.on('close', this.onResponseClose);
    if (this.draining) res.setHeader('connection', 'close');
    this.handler(req, res, this);
  }

  private exchangeClosed(): void {
    const hooks = this.hooks;
    this.hooks = undefined;
    this.activeReq = undefined;
    this.activeRes = undefined;
    hooks?.closed();
    // The connection is closing (the response said close, or node ended the socket after it):
    // requests pipelined behind it are never answered. Responses node has not attached to the
    // socket get no `close` of their own.
    if (this.socket.destroyed || this.socket.writableEnded || this.failed) {
      this.waiting.length = 0;
      return;
    }
    const next = this.waiting.shift();
    if (next) return this.start(next[0], next[1]);
    if (this.pausedForPipelining) {
      this.pausedForPipelining = false;
      this.socket.resume();
    }
  }

  /**
   * Node's `clientError` for this connection: a request its parser refused (400), a head over
   * the size limit (431), a head or body past its deadline (408), or the client gone. A request
   * still being received when it happens is answered (its upstream work stopped first); an error
   * behind a response already under way cuts the connection, as nothing else can be said then.
   */
  clientError(err: ClientError): void {
    const socket = this.socket;
    if (this.failed) return;
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    this.failed = true;
    // Node feeds what follows to the same failed parser, which would report it again.
    socket.pause();
    const [status, code] = refusalOf(err);
    const last = this.lastReq;
    if (last !== undefined && !last.complete) {
      // The error is in the body of the last request: answer that request, if it is the one in
      // flight and nothing of its response went out yet.
      const res = this.activeRes;
      if (this.activeReq === last && res !== undefined && !res.headersSent) {
        this.hooks?.cancel();
        localReply(res, status, code, ['connection', 'close']);
      } else socket.destroy();
      return;
    }
    if (this.activeRes !== undefined) {
      // A malformed request behind one being answered: its answer cannot be put in order.
      socket.destroy();
      return;
    }
    socket.end(rawProblem(status, code, this.refusalFormatOf?.(err.rawPacket)));
    socket.destroySoon();
  }
}

/** A method and the start of a target, the request line not ended: what overflowed is the URI. */
const UNENDED_REQUEST_LINE = /^[A-Z]{1,16} [^\r\n]*$/;
/** A request line whose version is well formed, whatever its number. */
const WELL_FORMED_VERSION = /^[A-Z]{1,16} \S+ HTTP\/\d\.\d\r\n/;

/**
 * The answer to a refused head: 414 when the head overflowed inside its request line (the parser
 * counts the target against the head's size, so a long URI would otherwise be called a field
 * problem), 431 for fields too large, 505 for a version the parser does not know, 408 past a
 * deadline, 400 for the rest.
 */
function refusalOf(err: ClientError): readonly [number, 'uri_too_long' | 'headers_too_large' | 'http_version_not_supported' | 'request_timeout' | 'bad_request'] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const raw = err.rawPacket;
      const start = Buffer.isBuffer(raw) ? raw.subarray(0, 64 * 1024).toString('latin1') : '';
      return UNENDED_REQUEST_LINE.test(start) ? [414, 'uri_too_long'] : [431, 'headers_too_large'];
    }
    case 'HPE_INVALID_VERSION':
      // A well-formed version the parser does not take (HTTP/3.0, HTTP/1.2); anything else is a malformed line.
      return Buffer.isBuffer(err.rawPacket) && WELL_FORMED_VERSION.test(err.rawPacket.subarray(0, 64 * 1024).toString('latin1'))
        ? [505, 'http_version_not_supported']
        : [400, 'bad_request'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout'];
    default:
      return [400, 'bad_request'];
  }
}

/** Stops reading a connection whose pipelined requests still wait (unless they were answered meanwhile). */
function pauseReading(conn: ClientConnection): void {
  if (conn.readingPaused) conn.socket.pause();
}

const connections = new WeakMap<Socket, ClientConnection>();

/** The connection state of `socket` (a TLS socket for HTTPS), made on its first request or error; `made` hears of a new one. */
export function connectionOf(socket: Socket, handler: ExchangeHandler, made?: (conn: ClientConnection) => void, refusalFormatOf?: RefusalFormatOf): ClientConnection {
  let conn = connections.get(socket);
  if (conn === undefined) {
    connections.set(socket, (conn = new ClientConnection(socket, handler, refusalFormatOf)));
    made?.(conn);
  }
  return conn;
}

/** The connection state of `socket` if it has served a request. */
export function existingConnection(socket: Socket): ClientConnection | undefined {
  return connections.get(socket);
}
