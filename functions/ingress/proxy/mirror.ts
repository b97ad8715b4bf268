// RequestMirror: a copy of the request to another backend; its response is ignored and its
// failures never affect the real exchange ("fire and forget").
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRequestMirrorFilter
import type { CompiledRule } from '../engine/table.js';
import type { ProxyContext } from './context.js';
import { requestUpstream } from './upstream-tls.js';
import { mirrorH2 } from './h2-mirror.js';
import type { RequestBody } from './request-body.js';

/** Methods whose bodiless requests node sends without framing; for the others it announces a chunked body. */
const BODILESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * `headers` with the body's framing stated: node infers none from a flat header list, and would
 * send the body of a DELETE, say, without any (RFC 9112 §6.3: the upstream would read it as the
 * next request). The client's own Content-Length is kept; its Transfer-Encoding is hop-by-hop.
 */
function framedHeaders(method: string, headers: string[], body: RequestBody): string[] {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') return headers;
  if (body === null) return BODILESS_BY_DEFAULT.has(method) ? headers : [...headers, 'content-length', '0'];
  return [...headers, ...(Buffer.isBuffer(body) ? ['content-length', String(body.length)] : ['transfer-encoding', 'chunked'])];
}

export function sendMirrors(ctx: ProxyContext, rule: CompiledRule, method: string, target: string, headers: string[], body: RequestBody): void {
  for (const m of rule.mirrors) {
    if (m.fraction < 1 && ctx.random() >= m.fraction) continue;
    const eps = m.backend.endpoints;
    if (!eps || eps.length === 0) continue;
    const ep = eps[Math.floor(ctx.random() * eps.length)]!;
    if (m.backend.h2c) {
      mirrorH2(ep, method, target, headers, body, ctx.limits.upstreamIdleMs);
      continue;
    }
    let mirrored: ReturnType<typeof requestUpstream>;
    try {
      mirrored = requestUpstream(ep, { host: ep.host, port: ep.port, method, path: target, headers: framedHeaders(method, headers, body), agent: ctx.agent, setHost: false });
    } catch {
      continue;
    }
    mirrored.setTimeout(ctx.limits.upstreamIdleMs, () => mirrored.destroy());
    mirrored.on('response', (r) => r.resume());
    if (body === null || Buffer.isBuffer(body)) {
      mirrored.on('error', () => {});
      mirrored.end(body ?? undefined);
      continue;
    }
    const rest = body.rest;
    mirrored.on('error', () => rest.unpipe(mirrored));
    for (const chunk of body.head) mirrored.write(chunk);
    // A client body cut short leaves the copy unfinished: it is dropped, never completed.
    rest.once('close', () => {
      if (!rest.readableEnded) mirrored.destroy();
    });
    rest.pipe(mirrored);
  }
}
