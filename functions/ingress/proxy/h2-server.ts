// HTTP/2 to clients (RFC 9113): node's http2 sessions on the connections a listener hands over (TLS
// ones whose ALPN chose h2, cleartext ones that opened with the h2c preface), each stream served by
// the same request path as an HTTP/1.1 request through node's compat request and response. What
// differs is said here: pseudo-header fields never go upstream and :authority becomes Host, the
// session's limits (concurrent streams, header list), and a client that keeps cancelling its own
// streams (the "rapid reset" flood, CVE-2023-44487) loses its connection with GOAWAY
// ENHANCE_YOUR_CALM.
// @see https://www.rfc-editor.org/rfc/rfc9113
import { constants, createServer } from 'node:http2';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExchangeHooks } from './connection.js';
import { localReply, markGrpc, markHttp2 } from './local-reply.js';

interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams one connection may have open at once. */
  maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: the largest header list, as the HTTP/1.1 head limit. */
  maxHeaderBytes: number;
  /** Most header fields in a request (pseudo-header fields included). */
  maxHeaderCount: number;
  /** Streams a client may cancel before their response ended, beyond those that completed, before the connection is closed. */
  maxPrematureResets: number;
  /** A connection without an open stream this long is closed (GOAWAY). */
  idleTimeoutMs: number;
}

/** Where the request path leaves the hooks of a stream's exchange. */
interface StreamSlot {
  hooks: ExchangeHooks | undefined;
  readonly http2: true;
}

/**
 * Serves an HTTP/2 stream. The compat request and response carry every member the request path
 * reads and writes of node's HTTP/1 ones (url, method, rawHeaders, headers, socket, the body
 * stream; writeHead with a flat field list, write, end, headersSent, destroyed, drain).
 */
type StreamHandler = (req: IncomingMessage, res: ServerResponse, slot: StreamSlot) => void;

/** Per connection: how many streams completed and how many the client cut short. */
interface SessionCount {
  completed: number;
  resets: number;
}

export interface H2Server {
  /** Serves `socket` (ALPN h2 over TLS, or cleartext that begins with the connection preface) as an HTTP/2 connection. */
  serve(socket: Duplex): void;
  /** Graceful close: GOAWAY on every connection, which then closes once its streams are done. */
  close(): void;
}

export function createH2Server(limits: H2Limits, handler: StreamHandler): H2Server {
  const server: Http2Server = createServer({
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes, enablePush: false },
    maxHeaderListPairs: limits.maxHeaderCount,
    // Streams refused for being over the concurrency bound before the session is closed.
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 100,
  });
  const sessions = new Set<Http2Session>();
  const counts = new WeakMap<Http2Session, SessionCount>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    counts.set(session, { completed: 0, resets: 0 });
    session.once('close', () => sessions.delete(session));
    session.on('error', () => session.destroy());
    session.setTimeout(limits.idleTimeoutMs, () => session.close());
  });
  server.on('stream', (stream) => {
    const session = stream.session;
    if (!session) return;
    // "aborted" is emitted when the stream was reset (or its connection lost) before our side ended:
    // the client cancelled it prematurely.
    stream.once('aborted', () => prematureReset(session));
    stream.once('close', () => {
      const c = counts.get(session);
      if (c && stream.rstCode === constants.NGHTTP2_NO_ERROR) c.completed++;
    });
  });
  const prematureReset = (session: Http2Session) => {
    const c = counts.get(session);
    if (!c || session.closed || session.destroyed) return;
    c.resets++;
    // Envoy's rule: a connection whose cancelled streams outnumber its completed ones past a
    // floor is an attack (each reset stream costs the proxy its work and the client nothing).
    if (c.resets > limits.maxPrematureResets && c.resets > c.completed) {
      // GOAWAY with the code, refusing any new stream; the connection closes once the streams
      // already open are done (destroying it at once can lose the GOAWAY on a TLS socket), or
      // after a second at the latest.
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      session.close();
      setTimeout(() => session.destroy(), 1_000).unref();
    }
  };
  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => serveStream(req, res, handler));
  return {
    serve(socket) {
      server.emit('connection', socket);
    },
    close() {
      for (const s of sessions) s.close();
    },
  };
}

function serveStream(req: Http2ServerRequest, res: Http2ServerResponse, handler: StreamHandler): void {
  const r1 = res as unknown as ServerResponse;
  markHttp2(r1);
  // gRPC runs on HTTP/2 only: its calls get the proxy's errors as gRPC statuses.
  if (req.headers['content-type']?.startsWith('application/grpc')) markGrpc(r1);
  const slot: StreamSlot = { hooks: undefined, http2: true };
  res.once('close', () => {
    const hooks = slot.hooks;
    slot.hooks = undefined;
    hooks?.closed();
  });
  req.once('aborted', () => slot.hooks?.cancel());
  // The request stream errs when the client resets it; its response's close ends the exchange.
  req.on('error', () => {});
  const fields = requestFields(req);
  // A body in HTTP/2 needs no length: DATA frames until END_STREAM (RFC 9113 §8.1). One without
  // content-length goes on as HTTP/1.1 frames a body of unknown length, chunked.
  if (fields !== undefined && !req.stream.endAfterHeaders && req.headers['content-length'] === undefined) fields.push('transfer-encoding', 'chunked');
  if (fields === undefined) return localReply(r1, 400, 'bad_request');
  Object.defineProperty(req, 'rawHeaders', { value: fields, enumerable: true });
  handler(req as unknown as IncomingMessage, r1, slot);
}

/**
 * The request's fields as they go on: pseudo-header fields dropped and Host made from :authority
 * ("An intermediary that forwards a request over HTTP/1.1 MUST construct a Host header field if
 * one is not present in a request by copying the value of the :authority pseudo-header field",
 * RFC 9113 §8.3.1). Undefined for a request the proxy does not serve: CONNECT (a reverse proxy
 * opens no tunnels), no authority at all, or a Host that names another entity than :authority
 * ("A server SHOULD treat a request as malformed if it contains a Host header field that
 * identifies an entity that differs from the entity in the :authority pseudo-header field").
 */
function requestFields(req: Http2ServerRequest): string[] | undefined {
  if (req.method === 'CONNECT') return undefined;
  const raw = req.rawHeaders;
  const out: string[] = [];
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = raw[i + 1];
      continue;
    }
    if (name === 'host') host = raw[i + 1];
    out.push(name, raw[i + 1]!);
  }
  if (authority !== undefined) {
    if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) return undefined;
    if (host === undefined) out.unshift('host', authority);
  }
  return authority === undefined && host === undefined ? undefined : out;
}
