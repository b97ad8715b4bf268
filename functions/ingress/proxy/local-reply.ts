// Responses the proxy makes itself (no route, invalid backend, upstream failure, a refused
// request): small problem+json bodies, or Vault's `{"errors": [...]}` on the routes that ask for it
// (their error-format annotation).
// @see https://www.rfc-editor.org/rfc/rfc9457
// @see https://developer.hashicorp.com/vault/api-docs#error-response
import type { ServerResponse } from 'node:http';
import { constants, type Http2ServerResponse } from 'node:http2';
import type { ErrorFormat } from '../engine/table.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Stable codes, so clients and tests can tell why the proxy answered. */
type LocalCode =
  | 'bad_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'route_not_found'
  | 'uri_too_long'
  | 'body_too_large'
  | 'http_version_not_supported'
  | 'invalid_backend'
  | 'no_backend'
  | 'backend_unavailable'
  | 'circuit_open'
  | 'backend_busy'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'filter_error'
  | 'unauthorized'
  | 'forbidden';

/** What a Vault client is told, per code: Vault's errors are sentences, not titles. */
const SENTENCES: Record<LocalCode, string> = {
  bad_request: 'malformed HTTP request',
  headers_too_large: 'request header fields too large',
  request_timeout: 'the request was not received in time',
  route_not_found: 'no route for this path',
  uri_too_long: 'request URI too long',
  body_too_large: 'request body too large',
  http_version_not_supported: 'HTTP version not supported',
  invalid_backend: 'the route has no valid backend',
  no_backend: 'the route has no backend',
  backend_unavailable: 'the service is unavailable; retry the request',
  circuit_open: 'the service is unavailable; retry the request',
  backend_busy: 'the service is busy; retry the request',
  upstream_error: 'the service failed to answer',
  upstream_timeout: 'the service did not answer in time',
  filter_error: 'internal error',
  unauthorized: 'permission denied',
  forbidden: 'permission denied',
};

const CONTENT_TYPES: Record<ErrorFormat, string> = { problem: 'application/problem+json', vault: 'application/json' };

const bodies = new Map<string, Buffer>();

export function problemBody(status: number, code: string, format: ErrorFormat = 'problem'): Buffer {
  const key = `${format}:${status}:${code}`;
  let b = bodies.get(key);
  if (!b) {
    const shape = format === 'vault' ? { errors: [SENTENCES[code as LocalCode] ?? TITLES[status] ?? 'error'] } : { type: 'about:blank', title: TITLES[status] ?? 'Error', status, code };
    bodies.set(key, (b = Buffer.from(JSON.stringify(shape))));
  }
  return b;
}

/** A whole problem response, written straight to a socket no response object owns (it then closes). */
export function rawProblem(status: number, code: LocalCode, format: ErrorFormat = 'problem'): string {
  const body = problemBody(status, code, format);
  return `HTTP/1.1 ${status} ${TITLES[status] ?? 'Error'}\r\ncontent-type: ${CONTENT_TYPES[format]}\r\ncontent-length: ${body.length}\r\nx-zeno-ingress: ${code}\r\nconnection: close\r\n\r\n${body.toString('latin1')}`;
}

/** The error format of each response whose route chose one other than problem+json. */
const formats = new WeakMap<ServerResponse, ErrorFormat>();

/** The proxy's own answers on `res` take `format` from now on (the matched route's). */
export function answerAs(res: ServerResponse, format: ErrorFormat): void {
  if (format !== 'problem') formats.set(res, format);
}

/** Responses on HTTP/2 streams (./h2-server.ts), which carry no connection-specific fields. */
const http2Responses = new WeakSet<ServerResponse>();

/** `res` answers an HTTP/2 stream: "An endpoint MUST NOT generate an HTTP/2 message containing connection-specific header fields" (RFC 9113 §8.2.2). */
export function markHttp2(res: ServerResponse): void {
  http2Responses.add(res);
}

/** Responses to gRPC requests (HTTP/2 streams whose content-type is application/grpc...). */
const grpcResponses = new WeakSet<ServerResponse>();

/** `res` answers a gRPC call: the proxy's own errors then take gRPC's shape. */
export function markGrpc(res: ServerResponse): void {
  grpcResponses.add(res);
}

/**
 * The gRPC status for the HTTP status the proxy would answer, as gRPC's own mapping gives it (400
 * INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504
 * UNAVAILABLE, anything else UNKNOWN).
 * @see https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md
 */
function grpcStatusOf(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

/**
 * A local reply to a gRPC call: HTTP 200 with the status in grpc-status and grpc-message
 * trailers, never a problem+json body a gRPC client cannot read ("Implementations MUST ... return
 * ... status in trailers"; a gRPC client reads an HTTP error status as a failed transport).
 * @see https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 */
function grpcReply(res: ServerResponse, status: number, code: LocalCode): void {
  res.writeHead(200, ['content-type', 'application/grpc', 'x-zeno-ingress', code]);
  // grpc-message is percent-encoded (PROTOCOL-HTTP2.md); the sentences here are plain ASCII.
  res.addTrailers({ 'grpc-status': String(grpcStatusOf(status)), 'grpc-message': encodeURIComponent(SENTENCES[code]) });
  res.end();
}

/** Whether `res` answers an HTTP/2 stream. */
export const isHttp2 = (res: ServerResponse): boolean => http2Responses.has(res);

/**
 * Cuts a response whose head already went out, so that the client cannot take the part it got for
 * the whole answer. HTTP/1.1: the connection closes mid-body. HTTP/2: the stream is reset with
 * INTERNAL_ERROR (RFC 9113 §8.1); a bare destroy() of the compatibility response would close it
 * with NO_ERROR, which the client reads as a complete answer.
 */
export function cutResponse(res: ServerResponse): void {
  const stream = isHttp2(res) ? (res as unknown as Http2ServerResponse).stream : undefined;
  if (stream && !stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

/** Writes a local problem response unless headers already went out, in which case the stream is cut. */
export function localReply(res: ServerResponse, status: number, code: LocalCode, extra?: string[]): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.headersSent) {
    cutResponse(res);
    return;
  }
  if (grpcResponses.has(res)) return grpcReply(res, status, code);
  const format = formats.get(res) ?? 'problem';
  const body = problemBody(status, code, format);
  const headers = ['content-type', CONTENT_TYPES[format], 'content-length', String(body.length), 'x-zeno-ingress', code];
  if (extra) for (let i = 0; i < extra.length; i += 2) if (extra[i] !== 'connection' || !http2Responses.has(res)) headers.push(extra[i]!, extra[i + 1]!);
  // The reason phrase given: a refused writeHead leaves its own behind on the response. HTTP/2
  // has none (RFC 9113 §8.3.2).
  if (http2Responses.has(res)) res.writeHead(status, headers);
  else res.writeHead(status, TITLES[status] ?? 'Error', headers);
  res.end(body);
}
