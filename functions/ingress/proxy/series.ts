// Per-route request metrics counted in plain numbers on the hot path and handed to prom-client
// only when scraped. prom-client's labelled children re-hash and re-validate their label values
// on every inc()/observe(), which cost a string build and a few objects per proxied request.
// @see https://prometheus.io/docs/instrumenting/exposition_formats/#histograms-and-summaries
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';

export interface HistogramSeries {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot is beyond the largest bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram keyed by a caller-built series key; exposition is the standard `_bucket`/`_sum`/`_count`. */
interface FastHistogram {
  /** The series for `key`, created with `labels` on first use. Keep the handle; observing is then allocation-free. */
  series(key: string, labels: Record<string, string>): HistogramSeries;
  observe(series: HistogramSeries, value: number): void;
}

export function createFastHistogram(opts: { name: string; help: string; buckets: number[]; registry: Registry }): FastHistogram {
  const bounds = [...opts.buckets].sort((a, b) => a - b);
  const all = new Map<string, HistogramSeries>();
  const metric = {
    name: opts.name,
    help: opts.help,
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const s of all.values()) {
        let acc = 0;
        for (let i = 0; i < bounds.length; i++) {
          acc += s.counts[i]!;
          values.push({ labels: { le: bounds[i]!, ...s.labels }, value: acc, metricName: `${opts.name}_bucket` });
        }
        values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${opts.name}_bucket` });
        values.push({ labels: s.labels, value: s.sum, metricName: `${opts.name}_sum` });
        values.push({ labels: s.labels, value: s.count, metricName: `${opts.name}_count` });
      }
      return { name: opts.name, help: opts.help, type: 'histogram', values, aggregator: 'sum' };
    },
    reset() {
      all.clear();
    },
  };
  opts.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  return {
    series(key, labels) {
      let s = all.get(key);
      if (!s) all.set(key, (s = { labels, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }));
      return s;
    },
    observe(s, value) {
      let i = 0;
      while (i < bounds.length && value > bounds[i]!) i++;
      s.counts[i]!++;
      s.sum += value;
      s.count++;
    },
  };
}

/** A counter whose per-series counts are plain numbers, folded into prom-client at scrape time. */
interface FastCounter {
  series(key: string, labels: Record<string, string>): { pending: number };
}

export function createFastCounter(opts: { name: string; help: string; labelNames: string[]; registry: Registry }): FastCounter {
  const all = new Map<string, { labels: Record<string, string>; pending: number }>();
  new Counter({
    name: opts.name,
    help: opts.help,
    labelNames: opts.labelNames,
    registers: [opts.registry],
    collect() {
      for (const s of all.values()) {
        if (s.pending === 0) continue;
        this.inc(s.labels, s.pending);
        s.pending = 0;
      }
    },
  });
  return {
    series(key, labels) {
      let s = all.get(key);
      if (!s) all.set(key, (s = { labels, pending: 0 }));
      return s;
    },
  };
}
