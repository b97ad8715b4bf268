// The edge's user side: each request goes to an agent serving its hostname on a stream of its
// own, the client's address first (PROXY header, ./proxy-header.ts), then the request as HTTP/1.1;
// the answer comes back on the same stream. An upgrade (WebSocket) is spliced onto its stream
// once its head is sent. No live agent: 503 with a problem body; the tunnel failing before the
// answer began: 502.
// @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1 (hop-by-hop fields are not forwarded)
import { request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { normalizeHost } from '../engine/hostname.js';
import { isHttp2 } from '../proxy/local-reply.js';
import { encodeProxyHeader } from './proxy-header.js';
import type { SessionTable } from './sessions.js';

/** Counters of the user side, for metrics and status. */
export interface EdgeCounters {
  requests: number;
  upgrades: number;
  /** Answered 503: no live agent for the hostname. */
  noAgent: number;
  /** Answered 502 (or cut): the tunnel failed before or during the answer. */
  tunnelErrors: number;
}

type EdgeCode = 'bad_request' | 'request_timeout' | 'tunnel_unavailable' | 'tunnel_error';

const TITLE: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 502: 'Bad Gateway', 503: 'Service Unavailable' };

const DETAIL: Record<EdgeCode, string> = {
  bad_request: 'The request has no valid Host.',
  request_timeout: 'The request body did not arrive in time.',
  tunnel_unavailable: 'No site serving this hostname is connected to the edge.',
  tunnel_error: 'The connection to the site failed before it answered.',
};

function problem(status: number, code: EdgeCode): string {
  return JSON.stringify({ type: 'about:blank', status, title: TITLE[status], code, detail: DETAIL[code] });
}

/**
 * Cuts an answer that cannot be finished. On HTTP/2 with an error, so the stream is reset with
 * INTERNAL_ERROR: destroyed without one it would close with NO_ERROR, which a client reads as a
 * complete answer.
 */
function cut(res: ServerResponse): void {
  if (isHttp2(res)) res.destroy(new Error('the answer was cut'));
  else res.destroy();
}

function reply(res: ServerResponse, status: number, code: EdgeCode): void {
  if (res.headersSent) {
    cut(res);
    return;
  }
  const body = problem(status, code);
  const headers = ['content-type', 'application/problem+json', 'content-length', String(Buffer.byteLength(body))];
  if (status === 503) headers.push('retry-after', '5');
  res.writeHead(status, headers).end(body);
}

function rawReply(socket: Duplex, status: number, code: EdgeCode): void {
  const body = problem(status, code);
  socket.end(`HTTP/1.1 ${status} ${code}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * Connection-specific fields an HTTP/2 message must not carry (RFC 9113 §8.2.2): those of HOP
 * (the upgrade's too) and transfer-encoding, as HTTP/2 frames bodies itself.
 */
const H2_FORBIDDEN = new Set(['transfer-encoding']);

/** Always hop-by-hop (RFC 9110 §7.6.1), plus `expect`, which this hop answers itself. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect', 'http2-settings']);

/** Fields of a flat rawHeaders array that go to the next hop: not hop-by-hop, nor named by Connection. */
function endToEnd(raw: string[], http2 = false): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const n of raw[i + 1]!.split(',')) named.add(n.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (!HOP.has(n) && !named.has(n) && !(http2 && H2_FORBIDDEN.has(n))) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** A connection's PROXY header, made once per connection (its addresses cost a system call each). */
const proxyHeaders = new WeakMap<Socket, Buffer>();

function proxyHeaderOf(socket: Socket): Buffer {
  let header = proxyHeaders.get(socket);
  if (header === undefined) {
    header = encodeProxyHeader({ address: socket.remoteAddress, port: socket.remotePort }, { address: socket.localAddress, port: socket.localPort });
    proxyHeaders.set(socket, header);
  }
  return header;
}

/** Methods a client may have retried automatically (RFC 9110 §9.2.2): safe to send again. */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Sends one request through a stream to an agent serving its hostname, and its answer back. A
 * bodiless GET, HEAD or OPTIONS whose stream fails before any answer (a stream that crossed the
 * agent's GoAway is refused with RST; a session that died) is sent once more, to the next agent.
 */
export function forwardRequest(table: SessionTable, counters: EdgeCounters, req: IncomingMessage, res: ServerResponse, bodyDeadlineMs?: number): void {
  counters.requests++;
  const http2 = isHttp2(res);
  const headers = endToEnd(req.rawHeaders);
  // On HTTP/2, Host is made from :authority, and a body of unknown length goes on chunked (its
  // fields say so; node's request has no such header).
  const host = normalizeHost(req.headers.host ?? (http2 ? (req.headers[':authority'] as string | undefined) : undefined));
  if (!host) return reply(res, 400, 'bad_request');
  const bodiless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined && !(http2 && headers.includes('transfer-encoding'));
  const retries = bodiless && RETRYABLE.has(req.method ?? '') ? 1 : 0;
  let up: ReturnType<typeof request> | undefined;
  if (bodiless) {
    // Nothing to read, but 'end' only comes to a request that flows.
    if (http2) req.resume();
  } else if (http2 && bodyDeadlineMs !== undefined) {
    // A body that never ends holds its tunnel stream only this long: 408 if nothing was
    // answered yet, then the stream is closed (node's HTTP/1.1 server does the same for its own).
    const timer = setTimeout(() => {
      up?.destroy();
      reply(res, 408, 'request_timeout');
      if (!res.destroyed) res.once('finish', () => req.destroy());
    }, bodyDeadlineMs);
    req.once('end', () => clearTimeout(timer));
    res.once('close', () => clearTimeout(timer));
  }
  const attempt = (left: number) => {
    const opened = table.openStream(host);
    if (!opened) {
      counters.noAgent++;
      return reply(res, 503, 'tunnel_unavailable');
    }
    const stream = opened.stream;
    stream.write(proxyHeaderOf(req.socket));
    // No agent: node sends `Connection: close`, so the stream carries this one exchange.
    const u = request({ createConnection: () => stream, method: req.method, path: req.url, headers, setHost: false });
    up = u;
    u.on('response', (ures) => {
      // HTTP/2 has no reason phrase (RFC 9113 §8.3.2).
      if (http2) res.writeHead(ures.statusCode ?? 502, endToEnd(ures.rawHeaders, true));
      else res.writeHead(ures.statusCode ?? 502, ures.statusMessage, endToEnd(ures.rawHeaders));
      ures.pipe(res);
      ures.on('aborted', () => cut(res));
      ures.on('error', () => cut(res));
    });
    u.on('error', () => {
      if (left > 0 && !res.headersSent && !res.destroyed) return attempt(left - 1);
      counters.tunnelErrors++;
      reply(res, 502, 'tunnel_error');
    });
    // The client went away before the end of the answer: the stream is reset, the site stops.
    res.on('close', () => {
      if (!res.writableFinished) u.destroy();
    });
    if (bodiless) u.end();
    else req.pipe(u);
  };
  attempt(retries);
}

/** Sends an upgrade request's head through a stream, then splices the client's socket onto it. */
export function forwardUpgrade(table: SessionTable, counters: EdgeCounters, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  counters.upgrades++;
  socket.on('error', () => socket.destroy());
  const host = normalizeHost(req.headers.host);
  if (!host) return rawReply(socket, 400, 'bad_request');
  const opened = table.openStream(host);
  if (!opened) {
    counters.noAgent++;
    return rawReply(socket, 503, 'tunnel_unavailable');
  }
  const stream = opened.stream;
  // node's parser has validated every name and value: none holds a CR or LF.
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  stream.write(proxyHeaderOf(req.socket));
  stream.write(lines.join('\r\n') + '\r\n\r\n');
  if (head.length > 0) stream.write(head);
  // Either side closing closes the other: no half-dead tunnels.
  stream.on('error', () => socket.destroy());
  stream.once('close', () => socket.destroy());
  socket.once('close', () => stream.destroy());
  stream.pipe(socket).pipe(stream);
}
