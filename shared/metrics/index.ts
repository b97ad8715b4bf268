// Prometheus metrics: one registry per process, the platform's HTTP histogram, the exposition route.
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'fn' | 'method' | 'route' | 'status'>;
}

/** Creates the process registry with default Node metrics and the request-duration histogram. */
export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'zeno_' });
  const httpDuration = new Histogram({
    name: 'zeno_http_request_duration_seconds',
    help: 'HTTP request duration by function, route and status.',
    labelNames: ['fn', 'method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, httpDuration };
}
