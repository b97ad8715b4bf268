// RequestMirror for backends spoken to in h2c (GRPCRoute's, and HTTPRoute backends whose
// appProtocol asks for it): a copy of the request goes to the mirror backend as a stream of its
// HTTP/2 session, fire and forget; its answer is read and dropped, and a failure touches nothing
// of the client's exchange.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRequestMirrorFilter
import { constants } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http2';
import type { Endpoint } from '../engine/references.js';
import type { RequestBody } from './request-body.js';
import { sessionFor } from './h2-upstream.js';

/** Request fields HTTP/2 forbids (RFC 9113 §8.2.2); `te: trailers` is kept for gRPC. */
const FORBIDDEN = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/** Sends a copy of the request to `ep`; `idleMs` bounds how long the copy may sit without a byte. */
export function mirrorH2(ep: Endpoint, method: string, path: string, fields: string[], body: RequestBody, idleMs: number): void {
  const headers: OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': 'http' };
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    const value = fields[i + 1]!;
    if (name === 'host') headers[':authority'] = value;
    if (name === 'te' && value.toLowerCase() === 'trailers') headers.te = 'trailers';
    if (FORBIDDEN.has(name)) continue;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [String(prior), value];
  }
  let stream;
  try {
    stream = sessionFor(ep.host, ep.port).request(headers, { endStream: body === null });
  } catch {
    return;
  }
  stream.on('error', () => {});
  stream.setTimeout(idleMs, () => stream.close(constants.NGHTTP2_CANCEL));
  // The mirror's answer is not wanted; reading it lets its stream end.
  stream.resume();
  if (body === null) return;
  if (Buffer.isBuffer(body)) {
    stream.end(body);
    return;
  }
  for (const chunk of body.head) stream.write(chunk);
  const rest = body.rest;
  // A client body cut short leaves the copy unfinished: it is cancelled, never completed.
  rest.once('close', () => {
    if (!rest.readableEnded) stream.close(constants.NGHTTP2_CANCEL);
  });
  stream.once('close', () => rest.unpipe(stream));
  rest.pipe(stream);
}
