// Responses the proxy makes itself (no route, invalid backend, upstream failure, a refused
// request): small problem+json bodies.
// @see https://www.rfc-editor.org/rfc/rfc9457
import type { ServerResponse } from 'node:http';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Stable codes, so clients and tests can tell why the proxy answered. */
type LocalCode =
  | 'bad_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'route_not_found'
  | 'uri_too_long'
  | 'invalid_backend'
  | 'no_backend'
  | 'backend_unavailable'
  | 'circuit_open'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'filter_error'
  | 'unauthorized'
  | 'forbidden';

const bodies = new Map<string, Buffer>();

export function problemBody(status: number, code: string): Buffer {
  const key = `${status}:${code}`;
  let b = bodies.get(key);
  if (!b) bodies.set(key, (b = Buffer.from(JSON.stringify({ type: 'about:blank', title: TITLES[status] ?? 'Error', status, code }))));
  return b;
}

/** A whole problem response, written straight to a socket no response object owns (it then closes). */
export function rawProblem(status: number, code: LocalCode): string {
  const body = problemBody(status, code);
  return `HTTP/1.1 ${status} ${TITLES[status] ?? 'Error'}\r\ncontent-type: application/problem+json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString('latin1')}`;
}

/** Writes a local problem response unless headers already went out, in which case the stream is cut. */
export function localReply(res: ServerResponse, status: number, code: LocalCode, extra?: string[]): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = problemBody(status, code);
  const headers = ['content-type', 'application/problem+json', 'content-length', String(body.length), 'x-zeno-ingress', code];
  if (extra) headers.push(...extra);
  // The reason phrase given: a refused writeHead leaves its own behind on the response.
  res.writeHead(status, TITLES[status] ?? 'Error', headers);
  res.end(body);
}
