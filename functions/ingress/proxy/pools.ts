// Upstream connections: keep-alive pools per endpoint (./upstream-pool.ts), tuned for a proxy hop.
import type { Endpoint } from '../engine/references.js';
import type { UpstreamCall, UpstreamHandler, UpstreamRequest } from './upstream-pool.js';
import { UpstreamPools as Pools } from './upstream-pool.js';

export interface UpstreamPools {
  dispatch(endpoint: Endpoint, req: UpstreamRequest, handler: UpstreamHandler): UpstreamCall;
  /** Open connections to an endpoint. */
  size(endpoint: Endpoint): number;
  close(): Promise<void>;
}

export function createPools(opts: { connections: number; idleMs: number; queueMs: number }): UpstreamPools {
  const pools = new Pools({
    connections: opts.connections,
    queueMs: opts.queueMs,
    idleMs: opts.idleMs,
    // Below the 5 s that node's and many servers' keep-alive timeouts default to, so the proxy
    // closes an idle connection before the server does.
    keepAliveMs: 4_000,
    connectTimeoutMs: 5_000,
    // Header values are relayed as the upstream sent them, within node's own limits.
    maxHeaderBytes: 65_536,
  });
  return {
    dispatch: (endpoint, req, handler) => pools.dispatch(endpoint.host, endpoint.port, req, handler, endpoint.tls),
    size: (endpoint) => pools.size(endpoint.host, endpoint.port, endpoint.tls),
    close: () => pools.close(),
  };
}
