import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTtlCache } from './ttl-cache.js';

describe('ExtAuthFilter decision cache', () => {
  it('expires entries after their TTL', () => {
    let now = 0;
    const c = createTtlCache<string>(10, () => now);
    c.set('k', 'v', 100);
    assert.equal(c.get('k'), 'v');
    now = 100;
    assert.equal(c.get('k'), undefined);
  });

  it('drops the oldest entry when full and never grows past its bound', () => {
    const c = createTtlCache<number>(3, () => 0);
    for (let i = 0; i < 10; i++) c.set(`k${i}`, i, 1000);
    assert.equal(c.size, 3);
    assert.equal(c.get('k6'), undefined);
    assert.equal(c.get('k9'), 9);
  });

  it('does not store with a zero TTL', () => {
    const c = createTtlCache<number>(3, () => 0);
    c.set('k', 1, 0);
    assert.equal(c.get('k'), undefined);
  });
});
