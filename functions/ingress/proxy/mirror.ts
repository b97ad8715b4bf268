// RequestMirror: a copy of the request to another backend; its response is ignored and its
// failures never affect the real exchange ("fire and forget").
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRequestMirrorFilter
import { request } from 'node:http';
import type { ProxyRequest } from './h1-server.js';
import type { CompiledRule } from '../engine/table.js';
import type { ProxyContext } from './context.js';

export function sendMirrors(ctx: ProxyContext, rule: CompiledRule, req: ProxyRequest, target: string, headers: string[]): void {
  for (const m of rule.mirrors) {
    if (m.fraction < 1 && ctx.random() >= m.fraction) continue;
    const eps = m.backend.endpoints;
    if (!eps || eps.length === 0) continue;
    const ep = eps[Math.floor(ctx.random() * eps.length)]!;
    const mirrored = request({ host: ep.host, port: ep.port, method: req.method, path: target, headers, agent: ctx.agent, setHost: false });
    mirrored.setTimeout(ctx.limits.upstreamIdleMs, () => mirrored.destroy());
    mirrored.on('response', (r) => r.resume());
    const body = req.body;
    mirrored.on('error', () => body?.unpipe(mirrored));
    if (!body || body.readableEnded) mirrored.end();
    else body.pipe(mirrored);
  }
}
