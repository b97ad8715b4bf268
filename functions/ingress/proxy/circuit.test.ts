import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCircuitBreakers } from './circuit.js';

describe('circuit breakers', () => {
  it('opens after consecutive failures, probes once after the cool-down, and closes on success', () => {
    let now = 0;
    const changes: string[] = [];
    const b = createCircuitBreakers({ failureThreshold: 3, openMs: 1000 }, () => now);
    b.onChange = (k, s) => changes.push(`${k}:${s}`);
    b.failure('e');
    b.failure('e');
    b.success('e');
    b.failure('e');
    b.failure('e');
    assert.equal(b.state('e'), 'closed', 'a success resets the count');
    b.failure('e');
    assert.equal(b.state('e'), 'open');
    assert.equal(b.allow('e'), false);
    now = 1000;
    assert.equal(b.allow('e'), true, 'one probe');
    assert.equal(b.allow('e'), false, 'only one probe at a time');
    b.success('e');
    assert.equal(b.state('e'), 'closed');
    assert.deepEqual(changes, ['e:open', 'e:half-open', 'e:closed']);
  });

  it('reopens when the half-open probe fails', () => {
    let now = 0;
    const b = createCircuitBreakers({ failureThreshold: 1, openMs: 100 }, () => now);
    b.failure('e');
    now = 100;
    assert.equal(b.allow('e'), true);
    b.failure('e');
    assert.equal(b.allow('e'), false);
    assert.equal(b.state('e'), 'open');
  });

  it('keeps endpoints apart', () => {
    const b = createCircuitBreakers({ failureThreshold: 1, openMs: 100 }, () => 0);
    b.failure('a');
    assert.equal(b.allow('a'), false);
    assert.equal(b.allow('b'), true);
  });
});
