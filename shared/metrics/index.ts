// Prometheus metrics: one registry per process, the platform's HTTP histogram, the exposition route.
import * as prom from 'prom-client';
import { buildMetrics, type Metrics } from './build.js';

export type { Metrics } from './build.js';

/** Creates the process registry with default Node metrics and the request-duration histogram. */
export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  return buildMetrics(prom, opts);
}
