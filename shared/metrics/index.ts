// Prometheus metrics: one registry per process, the platform's HTTP histogram, the exposition route.
import * as prom from 'prom-client';
import type { Histogram, Registry } from 'prom-client';
import { buildMetrics } from './build.js';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'fn' | 'method' | 'route' | 'status'>;
}

/** Creates the process registry with default Node metrics and the request-duration histogram. */
export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  return buildMetrics(prom, opts);
}
