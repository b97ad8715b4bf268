// Metrics whose prom-client is loaded after start, so a cold start does not pay for it: request
// durations observed before then are kept and replayed. Loading happens on first use of the
// registry (a /metrics scrape), when the buffer fills, or `loadAfterMs` after creation.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import { buildMetrics, type Metrics } from './build.js';

type Labels = Partial<Record<'fn' | 'method' | 'route' | 'status', string | number>>;

interface DeferredMetricsOptions {
  defaults?: boolean;
  /** Load prom-client this long after creation even if nothing asked (default 10 s). */
  loadAfterMs?: number;
  /** Observations kept before loading is forced (default 1000). */
  maxBuffered?: number;
}

export function createDeferredMetrics(opts: DeferredMetricsOptions = {}): Metrics {
  const maxBuffered = opts.maxBuffered ?? 1000;
  let real: Metrics | undefined;
  const buffered: [Labels, number][] = [];
  const registrations: Parameters<Metrics['whenLoaded']>[0][] = [];
  const load = (): Metrics => {
    if (real) return real;
    clearTimeout(timer);
    // prom-client is CommonJS: require() loads it synchronously, the same instance `import` gives.
    const prom = createRequire(import.meta.url)('prom-client') as typeof PromClient;
    real = buildMetrics(prom, { defaults: opts.defaults });
    for (const [labels, value] of buffered.splice(0)) real.httpDuration.observe(labels, value);
    for (const register of registrations.splice(0)) real.whenLoaded(register);
    return real;
  };
  const timer = setTimeout(load, opts.loadAfterMs ?? 10_000);
  timer.unref();

  const observe = (labels: Labels, value: number) => {
    if (real) return real.httpDuration.observe(labels, value);
    buffered.push([labels, value]);
    if (buffered.length >= maxBuffered) load();
  };
  // Anything but observe() (startTimer, labels, …) loads prom-client and goes to the real histogram.
  const httpDuration = new Proxy({} as Metrics['httpDuration'], {
    get: (_t, key) => {
      if (key === 'observe' && !real) return observe;
      const h = load().httpDuration;
      const v = (h as unknown as Record<string | symbol, unknown>)[key];
      return typeof v === 'function' ? v.bind(h) : v;
    },
  });
  return {
    get registry() {
      return load().registry;
    },
    httpDuration,
    whenLoaded(register) {
      if (real) real.whenLoaded(register);
      else registrations.push(register);
    },
  };
}
