// The request path: match, filters, backend choice, then to the upstream and back. A body is read
// up to a small buffer before an upstream connection is taken, then streamed; responses stream
// with backpressure. Headers stay in node's flat rawHeaders arrays.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Candidate, CompiledBackend, CompiledRule } from '../engine/table.js';
import type { Endpoint } from '../engine/references.js';
import type { MatchRequest } from '../engine/match.js';
import { matchRequest } from '../engine/match.js';
import { isGrpcCall } from '../engine/grpc-match.js';
import { normalizePath } from '../engine/path.js';
import { normalizeHost } from '../engine/hostname.js';
import type { Binding, ExchangeRecord, ProxyContext } from './context.js';
import { nextRequestId } from './context.js';
import type { ExchangeHooks } from './connection.js';
import { answerAs, cutResponse, localReply } from './local-reply.js';
import { refusalFormat } from './refusal-format.js';
import { applyHeaderOps, endToEnd, forwardedNode, requestFields } from './headers.js';
import { CLIENT_CERT_FIELDS } from '#shared/http/client-cert-proof';
import { pushClientCert } from './client-cert.js';
import type { RequestFields } from './headers.js';
import { redirectLocation, rewritePath } from './rewrite.js';
import { cookieValue, endpointForToken, endpointKey, pickBackend, pickEndpoint, sessionToken } from './balance.js';
import { sendMirrors } from './mirror.js';
import { sendUpstream } from './upstream.js';
import { sendH2 } from './h2-upstream.js';
import type { RequestBody } from './request-body.js';
import { TOO_LARGE, bufferBody } from './request-body.js';
import type { UpstreamCall } from './upstream-pool.js';
import { CLIENT_ABORTED, UpstreamError } from './upstream-pool.js';

/** Names replaced by the proxy's own values. */
// `expect` is answered here (node sends 100 Continue), never forwarded.
// The client certificate fields are the ingress's own too (RFC 9440 §2: a client must never set them).
const DROP = new Set(['host', 'expect', 'x-forwarded-for', 'forwarded', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', ...CLIENT_CERT_FIELDS]);

/** The per-request state, reused by the upstream attempt(s). */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  rec: ExchangeRecord;
  start: number;
  rule: CompiledRule;
  backend: CompiledBackend;
  endpoint: Endpoint;
  path: string;
  headers: string[];
  /** The request body as it goes upstream, once read up to the buffer. */
  body: RequestBody;
  /** Extra response headers (session cookie). */
  responseExtra: string[] | undefined;
  /** Per-request hooks the connection runs. */
  life: Lifecycle;
  /** Resumes a paused upstream body (backpressure). */
  resume: (() => void) | undefined;
}

/**
 * What has to happen when the client response closes or the client breaks the request off; the
 * connection calls it (one object per request rather than a listener per concern).
 */
class Lifecycle implements ExchangeHooks {
  readonly ctx: ProxyContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly rec: ExchangeRecord;
  readonly start: number;
  /** The upstream exchange in flight, aborted only when the response did not finish. */
  call: UpstreamCall | undefined = undefined;
  requestTimer: NodeJS.Timeout | undefined = undefined;
  /** Armed while the client is not taking the response (send deadline). */
  sendTimer: NodeJS.Timeout | undefined = undefined;
  /** The route's deadline for the request body. */
  bodyTimer: NodeJS.Timeout | undefined = undefined;
  /** The route's send deadline, over the proxy's. */
  sendTimeoutMs: number;
  /** The endpoint whose half-open circuit let this request through as its probe, until an attempt takes that over. */
  probeKey: string | undefined = undefined;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, rec: ExchangeRecord, start: number) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.rec = rec;
    this.start = start;
    this.sendTimeoutMs = ctx.limits.sendTimeoutMs;
  }

  closed(): void {
    const { res, rec } = this;
    const observer = this.ctx.observer;
    if (observer) {
      rec.status = res.headersSent ? res.statusCode : 499;
      rec.durationMs = performance.now() - this.start;
      observer.exchange(rec);
    }
    // The client went away before the end of the response: stop the upstream work.
    if (!res.writableEnded) this.call?.abort();
    if (this.requestTimer) clearTimeout(this.requestTimer);
    if (this.sendTimer) clearTimeout(this.sendTimer);
    if (this.bodyTimer) clearTimeout(this.bodyTimer);
    // A probe that never went upstream (its client went away while its body was read, say) says
    // nothing of the endpoint: the next request may probe.
    if (this.probeKey !== undefined && rec.attempts === 0) this.ctx.breakers.release(this.probeKey);
    // A body the answer did not need is discarded, so the connection's next request can be read.
    const req = this.req;
    if (!req.complete && !req.destroyed) {
      req.removeAllListeners('data');
      req.resume();
    }
  }

  cancel(): void {
    this.call?.abort(new UpstreamError(CLIENT_ABORTED, 'the client broke the request off'));
  }

  /** The client stopped taking the response: cut it if it does not resume within the send deadline. */
  sendStalled(): void {
    if (this.sendTimer) return;
    this.sendTimer = setTimeout(() => cutResponse(this.res), this.sendTimeoutMs);
  }

  sendResumed(): void {
    if (!this.sendTimer) return;
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
  }
}

/** The request as the matcher reads it: headers come from node's parsed map when a rule asks. */
class HttpMatchRequest implements MatchRequest {
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly method: string;
  private readonly req: IncomingMessage;

  constructor(host: string, path: string, query: string, method: string, req: IncomingMessage) {
    this.host = host;
    this.path = path;
    this.query = query;
    this.method = method;
    this.req = req;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return typeof v === 'string' || v === undefined ? v : v.join(', ');
  }
}

/** The Forwarded element of the last request on a connection, keyed by its Host header. */
interface ForwardedCache {
  host: string;
  value: string;
}

// A keep-alive client sends the same Host on every request of a connection: its element is built
// once per connection (client address and scheme cannot change on one) instead of once per request.
const forwardedBySocket = new WeakMap<Socket, ForwardedCache>();

/** This proxy's RFC 7239 element: `for=<client>;host="<Host>";proto=<scheme>`. */
function forwardedElement(socket: Socket, client: string, hostHeader: string, scheme: string): string {
  const cached = forwardedBySocket.get(socket);
  if (cached && cached.host === hostHeader) return cached.value;
  const quotedHost = hostHeader.indexOf('"') < 0 && hostHeader.indexOf('\\') < 0 ? hostHeader : hostHeader.replace(/["\\]/g, '');
  const value = `for=${forwardedNode(client)};host="${quotedHost}";proto=${scheme}`;
  if (cached) {
    cached.host = hostHeader;
    cached.value = value;
  } else forwardedBySocket.set(socket, { host: hostHeader, value });
  return value;
}

/**
 * Where an exchange's hooks are left for whoever serves its response: the HTTP/1 connection
 * (./connection.ts) or the HTTP/2 stream (./h2-server.ts).
 */
interface ExchangeSlot {
  hooks: ExchangeHooks | undefined;
  /** The request came on an HTTP/2 stream. */
  readonly http2?: boolean;
}

/** Serves one request of `conn` (the connection runs the exchange's hooks). */
export function handleRequest(ctx: ProxyContext, binding: Binding, req: IncomingMessage, res: ServerResponse, conn: ExchangeSlot): void {
  const start = performance.now();
  const url = req.url ?? '/';
  const rec: ExchangeRecord = {
    requestId: '',
    method: req.method ?? 'GET',
    host: '',
    path: '',
    status: 0,
    route: undefined,
    backend: undefined,
    upstreamError: undefined,
    durationMs: 0,
    bytesOut: 0,
    client: req.socket.remoteAddress,
    attempts: 0,
  };
  const life = new Lifecycle(ctx, req, res, rec, start);
  conn.hooks = life;
  // "A server can send a 505 (HTTP Version Not Supported) response if it wishes ... to refuse
  // service of the client's major protocol version" (RFC 9110 §15.6.6): node's parser lets
  // `HTTP/2.0` and `HTTP/0.9` request lines through, which are not HTTP/1.x messages.
  if (req.httpVersionMajor !== 1 && conn.http2 !== true) return localReply(res, 505, 'http_version_not_supported', ['connection', 'close']);
  // Node would keep only the first fields of a long list (its maxHeadersCount) and drop the rest,
  // Content-Length included; the listener lifts that, and too many fields are refused whole.
  if (req.rawHeaders.length > 2 * ctx.limits.maxHeaderCount) return localReply(res, 431, 'headers_too_large', ['connection', 'close']);
  if (url.length > ctx.limits.maxUrlLength) {
    answerAs(res, refusalFormat(binding, rec.method, req.headers.host, url));
    return localReply(res, 414, 'uri_too_long');
  }
  const q = url.indexOf('?');
  const path = normalizePath(q < 0 ? url : url.slice(0, q));
  const query = q < 0 ? '' : url.slice(q + 1);
  const fields = requestFields(req.rawHeaders);
  const hostHeader = fields.host;
  const host = normalizeHost(hostHeader);
  rec.host = host;
  rec.path = path ?? url.slice(0, 200);
  // "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message
  // that lacks a Host header field and to any request message that contains more than one Host
  // header field line" (RFC 9112 §3.2). An HTTP/1.0 message with Transfer-Encoding has faulty
  // framing (RFC 9112 §6.1): it is refused rather than guessed at.
  if (path === undefined || !host || fields.hosts !== 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0 && fields.transferEncoding !== undefined)) {
    return localReply(res, 400, 'bad_request', ['connection', 'close']);
  }
  const mreq = new HttpMatchRequest(host, path, query, rec.method, req);
  let match: Candidate | undefined;
  let listenerPort = 0;
  for (const t of binding.tables) {
    // A gRPC call goes by the GRPCRoutes first, then the HTTPRoutes as any request.
    match = (t.grpcHosts && isGrpcCall(mreq) ? matchRequest(t.grpcHosts, mreq) : undefined) ?? matchRequest(t.hosts, mreq);
    if (match) {
      listenerPort = t.port;
      break;
    }
  }
  if (!match) return localReply(res, 404, 'route_not_found');
  const rule = match.rule;
  rec.route = rule.id;
  answerAs(res, rule.errorFormat);
  if (rule.broken) return localReply(res, 500, 'filter_error');
  if (rule.extAuth && ctx.extAuth) {
    ctx.extAuth(rule.extAuth, req)
      .then((d) => {
        if (res.headersSent || res.destroyed) return;
        if (!d.allow) {
          const headers = d.headers.flat();
          if (d.body) headers.push('content-length', String(d.body.length));
          res.writeHead(d.status, headers);
          res.end(d.body);
          return;
        }
        proceed(ctx, binding, req, res, rec, life, start, match, mreq, fields, listenerPort, d);
      })
      // A decision that failed, or an answer node refused to write: never an unhandled rejection.
      .catch(() => localReply(res, 500, 'filter_error'));
    return;
  }
  proceed(ctx, binding, req, res, rec, life, start, match, mreq, fields, listenerPort, undefined);
}

function proceed(
  ctx: ProxyContext,
  binding: Binding,
  req: IncomingMessage,
  res: ServerResponse,
  rec: ExchangeRecord,
  life: Lifecycle,
  start: number,
  match: Candidate,
  mreq: MatchRequest,
  fields: RequestFields,
  listenerPort: number,
  auth: { headers: [string, string][]; strip: string[] } | undefined,
): void {
  const rule = match.rule;
  if (rule.redirect) {
    const location = redirectLocation(rule.redirect, mreq, { scheme: binding.scheme, port: listenerPort }, match);
    const headers = applyHeaderOps(['location', location, 'content-length', '0'], rule.responseHeaders);
    res.writeHead(rule.redirect.statusCode, headers);
    res.end();
    return;
  }
  // "If all entries in BackendRefs are invalid, and there are also no filters specified in this
  // route rule, all traffic which matches this rule MUST receive a 500 status code."
  const backend = rule.backends.length > 0 ? pickBackend(rule, ctx.random) : undefined;
  if (!backend) return localReply(res, 500, 'no_backend');
  rec.backend = backend.key;
  // "500 status codes MUST be returned for requests that would have otherwise been routed to an invalid backend."
  if (!backend.endpoints) return localReply(res, 500, 'invalid_backend');
  let endpoint: Endpoint | undefined;
  let responseExtra: string[] | undefined;
  const session = rule.session;
  if (session) {
    const token = session.type === 'Cookie' ? cookieValue(mreq.header('cookie'), session.name) : mreq.header(session.name);
    endpoint = token ? endpointForToken(backend.endpoints, token) : undefined;
    if (endpoint && !ctx.breakers.allow(endpointKey(endpoint))) endpoint = undefined;
  }
  endpoint ??= pickEndpoint(backend.endpoints, ctx.breakers);
  if (!endpoint) return localReply(res, 503, backend.endpoints.length === 0 ? 'backend_unavailable' : 'circuit_open');
  const key = endpointKey(endpoint);
  if (ctx.breakers.state(key) === 'half-open') life.probeKey = key;
  if (rule.deadlines?.send) life.sendTimeoutMs = rule.deadlines.send;
  if (session) {
    const token = sessionToken(endpoint);
    responseExtra =
      session.type === 'Cookie'
        ? ['set-cookie', `${session.name}=${token}; Path=/; HttpOnly; SameSite=Lax${session.maxAge ? `; Max-Age=${session.maxAge}` : ''}${binding.scheme === 'https' ? '; Secure' : ''}`]
        : [session.name, token];
  }

  // Headers upstream: end-to-end ones, then the proxy's, then the route's and the backend's modifiers.
  // Headers an auth filter owns never come from the client.
  // Host and the proxy's fields first: an upstream that keeps only its first N fields (node keeps
  // 2,000) still gets them, however many the client sent.
  const hostHeader = fields.host!;
  const requestId = fields.requestId ?? nextRequestId();
  rec.requestId = requestId;
  const client = req.socket.remoteAddress ?? '';
  const xff = fields.forwardedFor;
  const prior = fields.forwarded;
  const forwarded = forwardedElement(req.socket, client, hostHeader, binding.scheme);
  let headers = ['host', rule.rewrite?.hostname ?? hostHeader, 'x-forwarded-for', xff ? `${xff}, ${client}` : client, 'forwarded', prior ? `${prior}, ${forwarded}` : forwarded];
  headers.push('x-forwarded-proto', binding.scheme, 'x-forwarded-host', hostHeader, 'x-request-id', requestId);
  if (auth) for (const [n, v] of auth.headers) headers.push(n, v);
  if (ctx.clientCertKey && binding.scheme === 'https') pushClientCert(headers, ctx.clientCertKey, req, rec.method, hostHeader, mreq.path);
  headers = endToEnd(req.rawHeaders, auth ? new Set([...DROP, ...auth.strip, ...auth.headers.map(([n]) => n)]) : DROP, headers);
  headers = applyHeaderOps(headers, rule.requestHeaders);
  headers = applyHeaderOps(headers, backend.requestHeaders);
  const path = rule.rewrite?.path ? rewritePath(mreq.path, rule.rewrite.path, match) : mreq.path;
  const target = mreq.query ? `${path}?${mreq.query}` : path;

  const ex: Exchange = { req, res, rec, start, rule, backend, endpoint, path: target, headers, body: null, responseExtra, life, resume: undefined };
  if (rule.requestTimeoutMs) {
    life.requestTimer = setTimeout(() => {
      rec.upstreamError = 'request_timeout';
      const call = life.call;
      life.call = undefined;
      localReply(res, 504, 'request_timeout');
      call?.abort();
    }, rule.requestTimeoutMs);
  }
  // "the message body length is determined by ... Transfer-Encoding ... Content-Length", none: no body (RFC 9112 §6.3).
  if (fields.transferEncoding === undefined && (fields.contentLength === undefined || fields.contentLength === '0')) return send(ctx, ex);
  const max = rule.maxBodyBytes ?? Infinity;
  // A declared length over the limit is refused from the head: with Expect: 100-continue the
  // client never sends the body (RFC 9110 §10.1.1), and without it the connection closes after.
  if (fields.contentLength !== undefined && Number(fields.contentLength) > max) return refuseBody(life);
  if (rule.deadlines?.body) life.bodyTimer = setTimeout(bodyLate, rule.deadlines.body, life);
  bufferBody(req, ctx.limits.bodyBufferBytes, max, (body) => {
    if (body === TOO_LARGE) return refuseBody(life);
    ex.body = body;
    send(ctx, ex);
  });
}

/** 413 for a body over the route's limit, unless the answer is under way; the rest is never read. */
function refuseBody(life: Lifecycle): void {
  life.rec.upstreamError = 'body_too_large';
  life.cancel();
  localReply(life.res, 413, 'body_too_large', ['connection', 'close']);
}

/** The route's body deadline passed before the client sent the whole body: 408, the upstream work stopped. */
function bodyLate(life: Lifecycle): void {
  life.bodyTimer = undefined;
  if (life.req.complete) return;
  life.rec.upstreamError = 'request_timeout';
  life.cancel();
  localReply(life.res, 408, 'request_timeout', ['connection', 'close']);
  // An answer already under way cannot say it: the client's connection is cut instead.
  if (!life.res.writableEnded) cutResponse(life.res);
}

function send(ctx: ProxyContext, ex: Exchange): void {
  if (ex.rule.mirrors.length > 0) sendMirrors(ctx, ex.rule, ex.rec.method, ex.path, ex.headers, ex.body);
  if (ex.backend.h2c) sendH2(ctx, ex);
  else sendUpstream(ctx, ex);
}

