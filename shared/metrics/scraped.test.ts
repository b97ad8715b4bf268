import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDeferredMetrics } from './deferred.js';
import { createMetrics } from './index.js';
import { gaugeOnScrape, plainCounter } from './scraped.js';

describe('gaugeOnScrape', () => {
  it('reads its samples at each scrape', async () => {
    const metrics = createMetrics({ defaults: false });
    let sealed = 1;
    gaugeOnScrape(metrics, { name: 'zeno_test_sealed', help: 'h' }, () => [{ value: sealed }]);
    assert.match(await metrics.registry.metrics(), /^zeno_test_sealed 1$/m);
    sealed = 0;
    assert.match(await metrics.registry.metrics(), /^zeno_test_sealed 0$/m);
  });

  it('merges readers of one name and leaves out a reader that fails', async () => {
    const metrics = createMetrics({ defaults: false });
    const spec = { name: 'zeno_test_pending', help: 'h', labelNames: ['product'] };
    gaugeOnScrape(metrics, spec, async () => [{ labels: { product: 'auth' }, value: 3 }]);
    gaugeOnScrape(metrics, spec, () => [{ labels: { product: 'vault' }, value: 4 }]);
    gaugeOnScrape(metrics, spec, () => {
      throw new Error('database down');
    });
    const text = await metrics.registry.metrics();
    assert.match(text, /^zeno_test_pending\{product="auth"\} 3$/m);
    assert.match(text, /^zeno_test_pending\{product="vault"\} 4$/m);
  });

  it('registers with a deferred registry only once prom-client loads', async () => {
    const metrics = createDeferredMetrics({ defaults: false, loadAfterMs: 60_000 });
    gaugeOnScrape(metrics, { name: 'zeno_test_late', help: 'h' }, () => [{ value: 7 }]);
    assert.match(await metrics.registry.metrics(), /^zeno_test_late 7$/m);
    // After loading, a new definition registers at once.
    gaugeOnScrape(metrics, { name: 'zeno_test_later', help: 'h' }, () => [{ value: 8 }]);
    assert.match(await metrics.registry.metrics(), /^zeno_test_later 8$/m);
  });
});

describe('plainCounter', () => {
  it('counts per label set, including counts made before prom-client loads', async () => {
    const metrics = createDeferredMetrics({ defaults: false, loadAfterMs: 60_000 });
    const c = plainCounter(metrics, { name: 'zeno_test_failures_total', help: 'h', labelNames: ['reason'] });
    c.inc({ reason: 'bad_password' });
    c.inc({ reason: 'bad_password' });
    c.inc({ reason: 'throttled' }, 3);
    const text = await metrics.registry.metrics();
    assert.match(text, /^zeno_test_failures_total\{reason="bad_password"\} 2$/m);
    assert.match(text, /^zeno_test_failures_total\{reason="throttled"\} 3$/m);
    c.inc({ reason: 'throttled' });
    assert.match(await metrics.registry.metrics(), /^zeno_test_failures_total\{reason="throttled"\} 4$/m);
  });

  it('hands the same counter to a second definition of the name', async () => {
    const metrics = createMetrics({ defaults: false });
    const spec = { name: 'zeno_test_logins_total', help: 'h' };
    plainCounter(metrics, spec).inc();
    plainCounter(metrics, spec).inc();
    assert.match(await metrics.registry.metrics(), /^zeno_test_logins_total 2$/m);
  });

  it('refuses a name without _total and a decrement', () => {
    const metrics = createMetrics({ defaults: false });
    assert.throws(() => plainCounter(metrics, { name: 'zeno_test_logins', help: 'h' }), /must end in _total/);
    const c = plainCounter(metrics, { name: 'zeno_test_other_total', help: 'h' });
    assert.throws(() => c.inc({}, -1), /only goes up/);
  });
});
