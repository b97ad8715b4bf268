// Upstream connection pools: one keep-alive pool per endpoint (./h1-client.ts), created on first use.
import type { Endpoint } from '../engine/references.js';
import { endpointKey } from './balance.js';
import { Pool } from './h1-client.js';

export interface UpstreamPools {
  get(endpoint: Endpoint): Pool;
  close(): Promise<void>;
}

export function createPools(opts: { connections: number; idleMs: number }): UpstreamPools {
  const pools = new Map<string, Pool>();
  return {
    get(endpoint) {
      const key = endpointKey(endpoint);
      let p = pools.get(key);
      if (!p) {
        p = new Pool(endpoint.host, endpoint.port, {
          connections: opts.connections,
          idleMs: opts.idleMs,
          // Below the 5 s that node's and many servers' keep-alive timeouts default to, so the
          // proxy closes an idle connection before the server does.
          keepAliveMs: 4_000,
          connectTimeoutMs: 5_000,
          // Header values are relayed as the upstream sent them, within node's own limits.
          maxHeaderBytes: 65_536,
        });
        pools.set(key, p);
      }
      return p;
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((p) => p.close()));
    },
  };
}
