// Upstream connection pools: one undici Pool per endpoint, keep-alive, created on first use.
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';
import type { Endpoint } from '../engine/references.js';
import { endpointKey } from './balance.js';

// The pool's own modules only: the package's index also loads fetch, WebSocket, the HTTP cache and
// their dependencies, about 10 MB of resident memory a proxy process never uses.
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
type Pool = UndiciPool;

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
        const { host, port } = endpoint;
        const origin = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
        p = new Pool(origin, {
          connections: opts.connections,
          pipelining: 1,
          keepAliveTimeout: 4_000,
          keepAliveMaxTimeout: 60_000,
          headersTimeout: opts.idleMs,
          bodyTimeout: opts.idleMs,
          connectTimeout: 5_000,
          // Header values are relayed as the upstream sent them, within node's own limits.
          maxHeaderSize: 65_536,
        });
        pools.set(key, p);
      }
      return p;
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((p) => p.destroy().catch(() => {})));
    },
  };
}
