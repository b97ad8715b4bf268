// zeno_vault_integrity_failures_total: rows refused by an integrity check, by table. The api and
// the unsealer both count; where they share one process (`npm start`) they share the counter.
import type { Counter } from 'prom-client';
import type { Metrics } from '#shared/metrics/index';

const NAME = 'zeno_vault_integrity_failures_total';

/** The function that counts one refused row of `table` in this registry. */
export function integrityFailureCounter(metrics: Metrics): (table: string) => void {
  let inc: ((table: string) => void) | undefined;
  metrics.whenLoaded((prom, registry) => {
    const counter =
      (registry.getSingleMetric(NAME) as Counter<'table'> | undefined) ??
      new prom.Counter({
        name: NAME,
        help: 'Rows refused because their integrity MAC did not verify (forged, altered, rolled back or moved), by table.',
        labelNames: ['table'] as const,
        registers: [registry],
      });
    inc = (table) => counter.inc({ table });
  });
  return (table) => inc?.(table);
}
