// A product's own metrics, handed to prom-client only when it loads and read when Prometheus
// scrapes: a gauge computed from the process's state (sealed, pool in use, outbox lag), and a
// counter kept in plain numbers, so neither loads prom-client on a function's start path.
import type { Metrics } from './build.js';

type Labels = Readonly<Record<string, string>>;

interface Sample {
  labels?: Labels;
  value: number;
}

interface MetricSpec {
  /** `zeno_<noun>_<unit>`; counters end in `_total`. */
  name: string;
  help: string;
  labelNames?: readonly string[];
}

interface GaugeEntry {
  readers: (() => Sample[] | Promise<Sample[]>)[];
}

export interface PlainCounter {
  inc(labels?: Labels, by?: number): void;
}

interface CounterEntry {
  counter: PlainCounter;
}

// Per Metrics (one registry per process), per name: a second definition (two instances of a
// function in one process, `npm start`) joins the first instead of failing prom-client's registration.
const gauges = new WeakMap<Metrics, Map<string, GaugeEntry>>();
const counters = new WeakMap<Metrics, Map<string, CounterEntry>>();

function entries<T>(map: WeakMap<Metrics, Map<string, T>>, metrics: Metrics): Map<string, T> {
  let m = map.get(metrics);
  if (!m) map.set(metrics, (m = new Map()));
  return m;
}

/**
 * A gauge whose samples `read` returns at each scrape. Readers of the same name are merged; a
 * reader that throws leaves its samples out of that scrape (the scrape itself still answers).
 */
export function gaugeOnScrape(metrics: Metrics, spec: MetricSpec, read: () => Sample[] | Promise<Sample[]>): void {
  const known = entries(gauges, metrics);
  const existing = known.get(spec.name);
  if (existing) {
    existing.readers.push(read);
    return;
  }
  const entry: GaugeEntry = { readers: [read] };
  known.set(spec.name, entry);
  metrics.whenLoaded((prom, registry) => {
    new prom.Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      registers: [registry],
      async collect() {
        const results = await Promise.allSettled(entry.readers.map(async (r) => r()));
        this.reset();
        for (const r of results) {
          if (r.status !== 'fulfilled') continue;
          for (const s of r.value) this.set(s.labels ?? {}, s.value);
        }
      },
    });
  });
}

/** A counter counted in plain numbers, folded into a prom-client counter at scrape time. */
export function plainCounter(metrics: Metrics, spec: MetricSpec): PlainCounter {
  const known = entries(counters, metrics);
  const existing = known.get(spec.name);
  if (existing) return existing.counter;
  if (!spec.name.endsWith('_total')) throw new TypeError(`counter ${spec.name} must end in _total`);
  const names = [...(spec.labelNames ?? [])];
  const counts = new Map<string, { labels: Labels; value: number }>();
  const counter: PlainCounter = {
    inc(labels = {}, by = 1) {
      if (!(by >= 0)) throw new TypeError(`a counter only goes up (${spec.name} by ${by})`);
      const key = names.map((n) => labels[n] ?? '').join('\u0000');
      const c = counts.get(key);
      if (c) c.value += by;
      else counts.set(key, { labels: Object.fromEntries(names.map((n) => [n, labels[n] ?? ''])), value: by });
    },
  };
  known.set(spec.name, { counter });
  metrics.whenLoaded((prom, registry) => {
    new prom.Counter({
      name: spec.name,
      help: spec.help,
      labelNames: names,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, value } of counts.values()) this.inc(labels, value);
      },
    });
  });
  return counter;
}
