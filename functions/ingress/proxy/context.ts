// What every request handler shares: connection pool, breakers, observer, limits, external auth.
import type { Agent } from 'node:http';
import type { UpstreamPools } from './pools.js';
import type { FlowCounters } from './upstream-pool.js';
import type { PortTable } from '../engine/table.js';
import type { CircuitBreakers } from './circuit.js';
import type { ExtAuthDecider } from './ext-auth.js';

/** One finished exchange, for metrics and the access log. */
export interface ExchangeRecord {
  requestId: string;
  method: string;
  host: string;
  path: string;
  status: number;
  route: string | undefined;
  backend: string | undefined;
  upstreamError: string | undefined;
  durationMs: number;
  bytesOut: number;
  client: string | undefined;
  attempts: number;
}

export interface ProxyObserver {
  exchange(rec: ExchangeRecord): void;
  upstreamError(backend: string, code: string): void;
}

export interface ProxyLimits {
  /** Longest request target accepted (414 beyond). */
  maxUrlLength: number;
  /** Most header fields in a request (431 beyond), as Envoy's `max_headers_count`. */
  maxHeaderCount: number;
  /** Idle time on an upstream socket before the exchange fails with 504, when no route timeout applies. */
  upstreamIdleMs: number;
  /** Request body bytes read before an upstream connection is taken (a smaller body is read whole first). */
  bodyBufferBytes: number;
  /** Longest a request waits for one of its endpoint's connections (503 beyond). */
  queueTimeoutMs: number;
  /** Longest a response may wait for the client to take more of it; a client that stops reading is then cut. */
  sendTimeoutMs: number;
}

export interface ProxyContext {
  /** Peaks of what one exchange made the proxy hold (tests, and the proof of backpressure). */
  flow: FlowCounters;
  /** Upstream pools for proxied requests. */
  pools: UpstreamPools;
  /** node http agent for mirrors and upgrades. */
  agent: Agent;
  breakers: CircuitBreakers;
  observer: ProxyObserver | undefined;
  limits: ProxyLimits;
  extAuth: ExtAuthDecider | undefined;
  random: () => number;
  /** HMAC key of the client certificate proofs (ZENO_CLIENT_CERT_KEY); no certificate is forwarded without it. */
  clientCertKey?: Buffer | undefined;
}

/** The tables one listening socket serves; swapped whole on reload, read once per request. */
export interface Binding {
  tables: PortTable[];
  scheme: 'http' | 'https';
}

let counter = 0;
const prefix = Math.random().toString(36).slice(2, 8);

/** A cheap unique request id: process prefix + counter. */
export function nextRequestId(): string {
  return `${prefix}-${(++counter).toString(36)}`;
}
