// Metrics per route and backend, and one access-log JSON line per request (sampled).
// The per-request series are found by nested Map lookups (route, backend, code), no key string
// built, and counted in plain numbers (series.ts) that prom-client reads when scraped.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ExchangeRecord, ProxyObserver } from './context.js';
import type { CircuitState } from './circuit.js';
import { createFastCounter, createFastHistogram } from './series.js';
import type { HistogramSeries } from './series.js';

interface ObserverOptions {
  registry: Registry;
  /** Where access-log lines go (one JSON object per line); none when undefined. */
  accessLog: ((line: string) => void) | undefined;
  /** Share of requests logged, 0..1 (errors, 5xx, are always logged). */
  sampleRate: number;
  random?: () => number;
  /**
   * The breakers' current state of an endpoint, read at each scrape. An open circuit turns
   * half-open only when the next request asks, so without it an endpoint that gets no more
   * traffic (removed from the route) would show open forever.
   */
  circuitState?: (endpoint: string) => CircuitState;
}

interface IngressObserver extends ProxyObserver {
  circuitChanged(endpoint: string, state: CircuitState): void;
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

interface Pair {
  route: string;
  backend: string;
  duration: HistogramSeries;
  codes: Map<number, { pending: number }>;
}

export function createObserver(opts: ObserverOptions): IngressObserver {
  const registers = [opts.registry];
  const requests = createFastCounter({
    name: 'zeno_ingress_requests_total',
    help: 'Requests handled by the ingress, by route rule, backend and status code.',
    labelNames: ['route', 'backend', 'code'],
    registry: opts.registry,
  });
  const duration = createFastHistogram({
    name: 'zeno_ingress_request_duration_seconds',
    help: 'Time from request received to response finished, by route rule and backend.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry: opts.registry,
  });
  const upstreamErrors = new Counter({
    name: 'zeno_ingress_upstream_errors_total',
    help: 'Failed upstream exchanges by backend and error code.',
    labelNames: ['backend', 'error'] as const,
    registers,
  });
  const circuitState = opts.circuitState;
  const circuitEndpoints = new Set<string>();
  const circuit = new Gauge({
    name: 'zeno_ingress_circuit_state',
    help: 'Circuit breaker state per upstream endpoint: 0 closed, 1 half-open, 2 open.',
    labelNames: ['endpoint'] as const,
    registers,
    collect: circuitState
      ? function () {
          for (const endpoint of circuitEndpoints) this.labels(endpoint).set(CIRCUIT_VALUE[circuitState(endpoint)]);
        }
      : undefined,
  });
  const byRoute = new Map<string, Map<string, Pair>>();
  const pair = (route: string, backend: string): Pair => {
    let backends = byRoute.get(route);
    if (!backends) byRoute.set(route, (backends = new Map()));
    let p = backends.get(backend);
    if (!p) backends.set(backend, (p = { route, backend, duration: duration.series(`${route}\u0000${backend}`, { route, backend }), codes: new Map() }));
    return p;
  };
  const random = opts.random ?? Math.random;
  const sink = opts.accessLog;
  return {
    exchange(rec: ExchangeRecord) {
      const route = rec.route ?? 'none';
      const backend = rec.backend ?? 'none';
      const p = pair(route, backend);
      let c = p.codes.get(rec.status);
      if (!c) p.codes.set(rec.status, (c = requests.series(`${route}\u0000${backend}\u0000${rec.status}`, { route, backend, code: String(rec.status) })));
      c.pending++;
      duration.observe(p.duration, rec.durationMs / 1000);
      if (sink && (rec.status >= 500 || opts.sampleRate >= 1 || (opts.sampleRate > 0 && random() < opts.sampleRate))) {
        sink(
          JSON.stringify({
            time: new Date().toISOString(),
            msg: 'access',
            requestId: rec.requestId || undefined,
            method: rec.method,
            host: rec.host,
            path: rec.path,
            status: rec.status,
            route: rec.route,
            backend: rec.backend,
            durationMs: Math.round(rec.durationMs * 1000) / 1000,
            client: rec.client,
            attempts: rec.attempts || undefined,
            upstreamError: rec.upstreamError,
          }),
        );
      }
    },
    upstreamError(backend, code) {
      upstreamErrors.labels(backend, code).inc();
    },
    circuitChanged(endpoint, state) {
      circuitEndpoints.add(endpoint);
      circuit.labels(endpoint).set(CIRCUIT_VALUE[state]);
    },
  };
}
