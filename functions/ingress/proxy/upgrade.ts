// Upgrade passthrough (WebSocket): route like any request, then splice the two sockets together.
// @see https://www.rfc-editor.org/rfc/rfc9110#section-7.8
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { matchRequest } from '../engine/match.js';
import { normalizePath } from '../engine/path.js';
import { normalizeHost } from '../engine/hostname.js';
import type { Candidate } from '../engine/table.js';
import type { Binding, ProxyContext } from './context.js';
import { applyHeaderOps, endToEnd, forwardedNode } from './headers.js';
import { CLIENT_CERT_FIELDS } from '#shared/http/client-cert-proof';
import { endpointKey, pickBackend, pickEndpoint } from './balance.js';
import { problemBody } from './local-reply.js';
import { rewritePath } from './rewrite.js';
import { requestUpstream } from './upstream-tls.js';

const DROP = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', ...CLIENT_CERT_FIELDS]);

function reject(socket: Duplex, status: number, code: string): void {
  const body = problemBody(status, code);
  socket.end(`HTTP/1.1 ${status} ${code}\r\ncontent-type: application/problem+json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
}

export function handleUpgrade(ctx: ProxyContext, binding: Binding, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = normalizePath(q < 0 ? url : url.slice(0, q));
  const host = normalizeHost(req.headers.host);
  if (!path || !host || url.length > ctx.limits.maxUrlLength) return reject(socket, 400, 'bad_request');
  const query = q < 0 ? '' : url.slice(q + 1);
  const mreq = { host, path, query, method: req.method ?? 'GET', header: (n: string) => { const v = req.headers[n]; return typeof v === 'string' || v === undefined ? v : v.join(', '); } };
  let match: Candidate | undefined;
  for (const t of binding.tables) if ((match = matchRequest(t.hosts, mreq))) break;
  if (!match) return reject(socket, 404, 'route_not_found');
  const rule = match.rule;
  if (rule.broken || rule.redirect || rule.extAuth) return reject(socket, rule.broken ? 500 : 400, 'filter_error');
  const backend = pickBackend(rule, ctx.random);
  if (!backend || !backend.endpoints) return reject(socket, 500, 'invalid_backend');
  const ep = pickEndpoint(backend.endpoints, ctx.breakers);
  if (!ep) return reject(socket, 503, 'backend_unavailable');
  // Connection and Upgrade are hop-by-hop, but an upgrade must carry them to the next hop.
  let headers = endToEnd(req.rawHeaders, DROP);
  const client = req.socket.remoteAddress ?? '';
  const xff = req.headers['x-forwarded-for'];
  headers.push('x-forwarded-for', xff ? `${xff}, ${client}` : client, 'x-forwarded-proto', binding.scheme, 'forwarded', `for=${forwardedNode(client)};proto=${binding.scheme}`);
  headers.push('host', rule.rewrite?.hostname ?? req.headers.host!, 'connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
  headers = applyHeaderOps(applyHeaderOps(headers, rule.requestHeaders), backend.requestHeaders);
  const target = (rule.rewrite?.path ? rewritePath(path, rule.rewrite.path, match) : path) + (query ? `?${query}` : '');
  const up = requestUpstream(ep, { host: ep.host, port: ep.port, method: req.method, path: target, headers, setHost: false });
  up.setTimeout(ctx.limits.upstreamIdleMs, () => up.destroy());
  socket.once('close', () => up.destroy());
  up.on('upgrade', (ures, upSocket, upHead) => {
    ctx.breakers.success(endpointKey(ep));
    const lines = [`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < ures.rawHeaders.length; i += 2) lines.push(`${ures.rawHeaders[i]}: ${ures.rawHeaders[i + 1]}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.setTimeout(0);
    // Either side closing closes the other: no half-dead tunnels.
    upSocket.on('error', () => socket.destroy());
    socket.on('error', () => upSocket.destroy());
    upSocket.once('close', () => socket.destroy());
    socket.once('close', () => upSocket.destroy());
    upSocket.pipe(socket).pipe(upSocket);
  });
  up.on('response', (ures) => {
    // The backend refused the upgrade: relay its answer and close.
    // Raw framing is relayed as is (Transfer-Encoding kept), only the connection fields change.
    const raw = ures.rawHeaders;
    const lines = [`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? ''}`, 'connection: close'];
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!.toLowerCase();
      if (n !== 'connection' && n !== 'keep-alive') lines.push(`${raw[i]}: ${raw[i + 1]}`);
    }
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    ures.pipe(socket);
  });
  up.on('error', () => {
    ctx.breakers.failure(endpointKey(ep));
    reject(socket, 502, 'upstream_error');
  });
  up.end();
}
