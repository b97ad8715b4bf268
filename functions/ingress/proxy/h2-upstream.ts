// HTTP/2 over cleartext (h2c, prior knowledge) to backends whose Service port says so by its
// appProtocol: what gRPC needs end to end, trailers (grpc-status, grpc-message) included. One
// node:http2 session per endpoint carries every exchange to it as streams; the response streams to
// the client with backpressure and its trailers follow it. A failure before the response head is
// the proxy's own answer (a gRPC status for a gRPC call, ./local-reply.ts); after it, the client's
// stream is cut.
// @see https://www.rfc-editor.org/rfc/rfc9113#section-3.3
// @see https://gateway-api.sigs.k8s.io/guides/backend-protocol/
import { connect, constants } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledBackend, CompiledRule } from '../engine/table.js';
import type { Endpoint } from '../engine/references.js';
import type { ExchangeRecord, ProxyContext } from './context.js';
import type { RequestBody } from './request-body.js';
import type { UpstreamCall } from './upstream-pool.js';
import { endpointKey } from './balance.js';
import { applyHeaderOps, responseHeaders } from './headers.js';
import { cutResponse, localReply } from './local-reply.js';

/** What an h2c exchange reads of the request path's exchange (./forward.ts). */
interface H2Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  rec: ExchangeRecord;
  rule: CompiledRule;
  backend: CompiledBackend;
  endpoint: Endpoint;
  path: string;
  headers: string[];
  body: RequestBody;
  responseExtra: string[] | undefined;
  life: { call: UpstreamCall | undefined; sendStalled(): void; sendResumed(): void };
}

/** Request fields HTTP/2 forbids (RFC 9113 §8.2.2); `te` is let through as "trailers" only. */
const FORBIDDEN = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

const sessions = new Map<string, ClientHttp2Session>();
/** Sessions whose connection was made (a stream of another one failed for want of it). */
const connected = new WeakSet<ClientHttp2Session>();

/** The endpoint's session, opened on first use and forgotten once it closes. */
export function sessionFor(host: string, port: number): ClientHttp2Session {
  const key = `${host}:${port}`;
  const open = sessions.get(key);
  if (open && !open.closed && !open.destroyed) return open;
  const s = connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  sessions.set(key, s);
  s.on('error', () => {});
  s.once('connect', () => connected.add(s));
  s.once('close', () => {
    if (sessions.get(key) === s) sessions.delete(key);
  });
  // An idle session does not keep the process alive.
  s.unref();
  return s;
}

/** Closes every backend session (the ingress is closing). */
export function closeH2Sessions(): void {
  for (const s of sessions.values()) s.close();
  sessions.clear();
}

/** Sends `ex` to its endpoint over h2c and relays the answer, trailers included. */
export function sendH2(ctx: ProxyContext, ex: H2Exchange): void {
  const { res, endpoint } = ex;
  if (res.destroyed || res.headersSent) return;
  ex.rec.attempts++;
  const key = endpointKey(endpoint);
  const session = sessionFor(endpoint.host, endpoint.port);
  const headers: OutgoingHttpHeaders = { ':method': ex.rec.method, ':path': ex.path, ':scheme': 'http' };
  const h = ex.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    const value = h[i + 1]!;
    if (name === 'host') headers[':authority'] = value;
    if (FORBIDDEN.has(name)) continue;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [String(prior), value];
  }
  // gRPC servers require "te: trailers" (PROTOCOL-HTTP2.md), the one TE value HTTP/2 allows.
  if (ex.req.headers.te === 'trailers') headers.te = 'trailers';
  const body = ex.body;
  const stream = session.request(headers, { endStream: body === null });
  ex.life.call = { abort: () => stream.close(constants.NGHTTP2_CANCEL) };
  stream.on('error', () => {});
  if (Buffer.isBuffer(body)) stream.end(body);
  else if (body !== null) {
    for (const chunk of body.head) stream.write(chunk);
    // The client's body follows as it comes, paused while the backend's stream is full.
    body.rest.pipe(stream);
  }
  let trailers: IncomingHttpHeaders | undefined;
  stream.on('response', (head) => {
    const status = Number(head[':status']);
    ctx.breakers.success(key);
    if (res.destroyed) return;
    let out = responseHeaders(flatten(head));
    // A trailers-only answer (a gRPC status in its one HEADERS frame, END_STREAM set; a head never
    // carries grpc-status otherwise): the status fields go out as trailers, since the client's
    // response sends its head in a frame of its own.
    [out, trailers] = splitStatus(out);
    out = applyHeaderOps(out, ex.rule.responseHeaders);
    out = applyHeaderOps(out, ex.backend.responseHeaders);
    if (ex.responseExtra) out.push(...ex.responseExtra);
    res.writeHead(status, out);
  });
  stream.on('trailers', (t) => (trailers = t));
  stream.on('data', (chunk: Buffer) => {
    if (res.destroyed) return;
    if (!res.write(chunk)) {
      stream.pause();
      ex.life.sendStalled();
      res.once('drain', () => {
        ex.life.sendResumed();
        stream.resume();
      });
    }
  });
  stream.on('end', () => {
    if (res.destroyed || res.writableEnded) return;
    if (trailers) res.addTrailers(trailerFields(trailers));
    res.end();
  });
  stream.on('close', () => {
    if (res.writableEnded || res.destroyed) return;
    // Closed without a whole answer: refused, reset or cut by the backend.
    // No connection, or the stream refused unprocessed (RFC 9113 §8.7): the backend is unavailable.
    const refused = !connected.has(session) || stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
    ex.rec.upstreamError = refused ? 'backend_unavailable' : 'upstream_error';
    ctx.breakers.failure(key);
    ctx.observer?.upstreamError(ex.backend.key, ex.rec.upstreamError);
    if (res.headersSent) cutResponse(res);
    else localReply(res, refused ? 503 : 502, refused ? 'backend_unavailable' : 'upstream_error');
  });
}

/** A header block as a flat [name, value, ...] list, pseudo-header fields left out. */
function flatten(block: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(block)) {
    if (name.charCodeAt(0) === 58 /* : */ || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  return out;
}

/** gRPC's status fields, which a trailers-only response carries in its head. */
const STATUS_FIELDS = new Set(['grpc-status', 'grpc-message', 'grpc-status-details-bin']);

/** Splits a trailers-only head into the head without gRPC's status fields, and those fields as trailers. */
function splitStatus(fields: string[]): [string[], IncomingHttpHeaders | undefined] {
  const head: string[] = [];
  const status: IncomingHttpHeaders = {};
  let any = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    if (STATUS_FIELDS.has(name)) {
      status[name] = fields[i + 1]!;
      any = true;
    } else head.push(fields[i]!, fields[i + 1]!);
  }
  return any ? [head, status] : [fields, undefined];
}

/** Trailer fields to relay: pseudo-header fields left out. */
function trailerFields(block: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(block)) if (name.charCodeAt(0) !== 58 && value !== undefined) out[name] = value;
  return out;
}
