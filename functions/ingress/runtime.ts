// The running ingress: applies compiled configurations to listening sockets atomically.
// A new configuration swaps each socket's tables in one assignment; sockets no longer wanted
// drain gracefully; a configuration that fails to bind keeps the previous one serving.
import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CompiledConfig } from './engine/compile.js';
import type { CompiledGateway, PortTable } from './engine/table.js';
import type { ListeningSocket, ServerLimits } from './proxy/server.js';
import { closeH2Sessions } from './proxy/h2-upstream.js';
import { openSocket } from './proxy/server.js';
import type { PassthroughLimits } from './proxy/passthrough.js';
import { openPassthroughSocket } from './proxy/passthrough.js';
import type { ProxyContext, ProxyLimits, ProxyObserver } from './proxy/context.js';
import type { CircuitOptions } from './proxy/circuit.js';
import { createCircuitBreakers } from './proxy/circuit.js';
import { createPools } from './proxy/pools.js';
import type { ExtAuthDecider } from './proxy/ext-auth.js';

/** Where a gateway's listener port is bound. */
export type BindPolicy = (gateway: CompiledGateway, port: number) => { host: string; port: number }[];

export interface IngressOptions {
  bind: BindPolicy;
  limits?: Partial<ProxyLimits & ServerLimits & PassthroughLimits>;
  circuit?: Partial<CircuitOptions>;
  observer?: ProxyObserver;
  extAuth?: ExtAuthDecider;
  /** Upstream connections kept per endpoint. */
  maxSocketsPerEndpoint?: number;
  /** Grace for in-flight requests when a socket is closed. */
  drainMs?: number;
  onProblem?: (message: string) => void;
  random?: () => number;
  /** Forward TLS client certificates with a proof made with this key (shared/http/client-cert-proof.ts). */
  clientCertKey?: Buffer | undefined;
}

export interface Ingress {
  readonly context: ProxyContext;
  /** Applies a configuration; resolves once every wanted socket listens. */
  apply(config: CompiledConfig): Promise<void>;
  /** Actual bound address of a gateway listener port: `namespace/name:port` → host/port. */
  address(gateway: string, port: number): { host: string; port: number } | undefined;
  /**
   * Serves `connection` (a tunnel stream) as if it had arrived on the socket of a gateway listener
   * port (`namespace/name`, port); false when no such socket listens.
   */
  serveConnection(gateway: string, port: number, connection: Duplex): boolean;
  /**
   * The hostnames a gateway listener port serves, from its routes and listeners: exact names and
   * `*.domain` wildcards, sorted. Undefined when the port serves any hostname (a route or listener
   * without one) or is not served; empty when it routes nothing yet.
   */
  hostnames(gateway: string, port: number): string[] | undefined;
  /** Calls `listener` after each configuration is applied; returns the unsubscribe. */
  onApplied(listener: () => void): () => void;
  close(): Promise<void>;
}

/** The default policy: each Gateway's IPAddress addresses, or all interfaces, on port + offset. */
export function addressesPolicy(offset = 0): BindPolicy {
  return (gw, port) => (gw.addresses.length > 0 ? gw.addresses : ['0.0.0.0']).map((host) => ({ host, port: port + offset }));
}

export function createIngress(opts: IngressOptions): Ingress {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSocketsPerEndpoint ?? 512, maxFreeSockets: 256, scheduling: 'lifo', keepAliveMsecs: 1000 });
  const upstreamIdleMs = opts.limits?.upstreamIdleMs ?? 60_000;
  const pools = createPools({ connections: opts.maxSocketsPerEndpoint ?? 512, idleMs: upstreamIdleMs, queueMs: opts.limits?.queueTimeoutMs ?? 10_000 });
  const context: ProxyContext = {
    flow: { responsePeak: 0, requestPeak: 0 },
    pools,
    agent,
    breakers: createCircuitBreakers({ failureThreshold: opts.circuit?.failureThreshold ?? 5, openMs: opts.circuit?.openMs ?? 5_000 }),
    observer: opts.observer,
    limits: {
      maxUrlLength: opts.limits?.maxUrlLength ?? 8_192,
      maxHeaderCount: opts.limits?.maxHeaderCount ?? 200,
      upstreamIdleMs,
      bodyBufferBytes: opts.limits?.bodyBufferBytes ?? 65_536,
      queueTimeoutMs: opts.limits?.queueTimeoutMs ?? 10_000,
      // nginx's send_timeout: as long as a client may leave a response untaken.
      sendTimeoutMs: opts.limits?.sendTimeoutMs ?? 60_000,
    },
    extAuth: opts.extAuth,
    random: opts.random ?? Math.random,
    clientCertKey: opts.clientCertKey,
  };
  const serverLimits: ServerLimits = {
    maxHeaderBytes: opts.limits?.maxHeaderBytes ?? 16_384,
    headersTimeoutMs: opts.limits?.headersTimeoutMs ?? 10_000,
    // Traefik's readTimeout: a whole request, body included, within a minute.
    requestTimeoutMs: Math.max(opts.limits?.requestTimeoutMs ?? 60_000, opts.limits?.headersTimeoutMs ?? 10_000),
    keepAliveTimeoutMs: opts.limits?.keepAliveTimeoutMs ?? 5_000,
    // nginx's http2_max_concurrent_streams is 128, Envoy's default 2^31: 100 as RFC 9113 §6.5.2 advises as a minimum.
    maxConcurrentStreams: opts.limits?.maxConcurrentStreams ?? 100,
    maxPrematureResets: opts.limits?.maxPrematureResets ?? 100,
  };
  const passthroughLimits: PassthroughLimits = {
    helloTimeoutMs: opts.limits?.helloTimeoutMs ?? serverLimits.headersTimeoutMs,
    // One whole TLS record; hellos with post-quantum key shares are about 2 KB.
    maxHelloBytes: opts.limits?.maxHelloBytes ?? 16_384,
    upstreamConnectTimeoutMs: opts.limits?.upstreamConnectTimeoutMs ?? 5_000,
    // Envoy's tcp_proxy idle_timeout.
    streamIdleTimeoutMs: opts.limits?.streamIdleTimeoutMs ?? 3_600_000,
  };
  const sockets = new Map<string, ListeningSocket>();
  /** `gateway:port` → socket key. */
  let routes = new Map<string, string>();
  /** `gateway:port` → its routing table, as last applied. */
  let tables = new Map<string, PortTable>();
  const applied = new Set<() => void>();
  let chain: Promise<void> = Promise.resolve();

  const applyNow = async (config: CompiledConfig) => {
    const wanted = new Map<string, { host: string; port: number; tables: PortTable[] }>();
    const nextRoutes = new Map<string, string>();
    const nextTables = new Map<string, PortTable>();
    for (const gw of config.gateways) {
      for (const [port, table] of gw.ports) {
        nextTables.set(`${gw.key}:${port}`, table);
        for (const b of opts.bind(gw, port)) {
          // Port 0 (tests) means a socket of its own per gateway port.
          const key = `${table.protocol}|${b.host}|${b.port}${b.port === 0 ? `|${gw.key}:${port}` : ''}`;
          const w = wanted.get(key) ?? { host: b.host, port: b.port, tables: [] };
          w.tables.push(table);
          wanted.set(key, w);
          nextRoutes.set(`${gw.key}:${port}`, key);
        }
      }
    }
    for (const [key, w] of wanted) {
      let s = sockets.get(key);
      if (!s) {
        try {
          s =
            w.tables[0]?.protocol === 'TLS'
              ? await openPassthroughSocket(context, passthroughLimits, w.host, w.port, w.tables)
              : await openSocket(context, serverLimits, w.host, w.port, w.tables);
        } catch (err) {
          opts.onProblem?.(`cannot listen on ${w.host}:${w.port}: ${(err as Error).message}`);
          continue;
        }
        sockets.set(key, s);
      }
      const certs = w.tables.flatMap((t) => t.certificates);
      if (s.binding.scheme === 'https') for (const e of s.setCertificates(certs)) opts.onProblem?.(e);
      s.binding.tables = w.tables;
    }
    routes = nextRoutes;
    tables = nextTables;
    for (const l of applied) l();
    const stale = [...sockets].filter(([key]) => !wanted.has(key));
    for (const [key] of stale) sockets.delete(key);
    await Promise.all(stale.map(([, s]) => s.close(opts.drainMs ?? 10_000)));
  };

  return {
    context,
    apply(config) {
      chain = chain.then(() => applyNow(config));
      return chain;
    },
    address(gateway, port) {
      const key = routes.get(`${gateway}:${port}`);
      const s = key ? sockets.get(key) : undefined;
      return s && { host: s.host, port: s.port };
    },
    serveConnection(gateway, port, connection) {
      const key = routes.get(`${gateway}:${port}`);
      const s = key ? sockets.get(key) : undefined;
      if (!s) return false;
      s.serveConnection(connection);
      return true;
    },
    hostnames(gateway, port) {
      const hosts = tables.get(`${gateway}:${port}`)?.hosts;
      if (!hosts || hosts.any) return undefined;
      return [...hosts.exact.keys(), ...[...hosts.wildcard.keys()].map((suffix) => `*${suffix}`)].sort();
    },
    onApplied(listener) {
      applied.add(listener);
      return () => applied.delete(listener);
    },
    async close() {
      applied.clear();
      await chain.catch(() => {});
      const all = [...sockets.values()];
      sockets.clear();
      await Promise.all(all.map((s) => s.close(opts.drainMs ?? 10_000)));
      agent.destroy();
      await pools.close();
      closeH2Sessions();
    },
  };
}
