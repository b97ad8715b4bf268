import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jitteredDelayMs, parseIsoDuration, retryDelayMs } from './backoff.js';

describe('parseIsoDuration', () => {
  it('reads the durations Knative delivery specs use', () => {
    assert.equal(parseIsoDuration('PT0.2S'), 200);
    assert.equal(parseIsoDuration('PT1M'), 60_000);
    assert.equal(parseIsoDuration('PT1H30M'), 5_400_000);
    assert.equal(parseIsoDuration('P1D'), 86_400_000);
  });
  it('rejects text that is not a duration', () => {
    for (const bad of ['', 'P', 'PT', '0.2S', 'PT-1S', 'PT1X', '1 second']) assert.throws(() => parseIsoDuration(bad), TypeError, bad);
  });
});

describe('retryDelayMs (Knative delivery.backoffPolicy)', () => {
  it('doubles per retry for exponential and grows by the base for linear', () => {
    assert.deepEqual([1, 2, 3].map((n) => retryDelayMs('exponential', 200, n)), [400, 800, 1600]);
    assert.deepEqual([1, 2, 3].map((n) => retryDelayMs('linear', 200, n)), [200, 400, 600]);
  });
});

describe('jitteredDelayMs', () => {
  it('stays between half and all of the capped exponential delay', () => {
    assert.equal(jitteredDelayMs(100, 3, 10_000, () => 0), 200);
    assert.equal(jitteredDelayMs(100, 3, 10_000, () => 1), 400);
    assert.equal(jitteredDelayMs(100, 30, 10_000, () => 1), 10_000);
  });
});
