import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { createFastCounter, createFastHistogram } from './series.js';

describe('scrape-time request series', () => {
  it('exposes a histogram exactly as prom-client does for the same observations', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = new Registry();
    const theirs = new Registry();
    const fast = createFastHistogram({ name: 'h_seconds', help: 'h', buckets, registry: ours });
    const ref = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['route', 'backend'], buckets, registers: [theirs] });
    const values = [0.0005, 0.001, 0.002, 0.5, 1, 3, 0.05];
    const a = fast.series('a', { route: 'r1', backend: 'b1' });
    const b = fast.series('b', { route: 'r2', backend: 'b1' });
    for (const v of values) {
      fast.observe(a, v);
      ref.labels('r1', 'b1').observe(v);
    }
    fast.observe(b, 7);
    ref.labels('r2', 'b1').observe(7);
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it('returns the same series for the same key', () => {
    const h = createFastHistogram({ name: 'h2_seconds', help: 'h', buckets: [1], registry: new Registry() });
    assert.equal(h.series('k', { route: 'x' }), h.series('k', { route: 'y' }));
  });

  it('folds counts into the counter at every scrape without double counting', async () => {
    const registry = new Registry();
    const c = createFastCounter({ name: 'c_total', help: 'c', labelNames: ['route', 'code'], registry });
    const s = c.series('r|200', { route: 'r', code: '200' });
    s.pending += 3;
    assert.match(await registry.metrics(), /c_total\{route="r",code="200"\} 3\n/);
    assert.match(await registry.metrics(), /c_total\{route="r",code="200"\} 3\n/);
    s.pending++;
    assert.match(await registry.metrics(), /c_total\{route="r",code="200"\} 4\n/);
  });

  it('refuses a second metric of the same name in one registry', () => {
    const registry = new Registry();
    createFastHistogram({ name: 'dup_seconds', help: 'h', buckets: [1], registry });
    assert.throws(() => createFastHistogram({ name: 'dup_seconds', help: 'h', buckets: [1], registry }));
  });
});
