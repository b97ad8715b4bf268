// Builds the process registry and the platform's HTTP histogram from a loaded prom-client, so the
// eager (createMetrics) and deferred (createDeferredMetrics) paths define the metrics once.
import type * as PromClient from 'prom-client';
import type { Histogram, Registry } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'fn' | 'method' | 'route' | 'status'>;
  /**
   * Runs `register` once prom-client is loaded (at once when it already is), with the module and
   * the registry: a product defines its own metrics here without loading prom-client on its start path.
   */
  whenLoaded(register: (prom: typeof PromClient, registry: Registry) => void): void;
}

export function buildMetrics(prom: typeof PromClient, opts: { defaults?: boolean } = {}): Metrics {
  const registry = new prom.Registry();
  if (opts.defaults !== false) prom.collectDefaultMetrics({ register: registry, prefix: 'zeno_' });
  const httpDuration = new prom.Histogram({
    name: 'zeno_http_request_duration_seconds',
    help: 'HTTP request duration by function, route and status.',
    labelNames: ['fn', 'method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, httpDuration, whenLoaded: (register) => register(prom, registry) };
}
