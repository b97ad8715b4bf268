import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defineFunction } from '#shared/function/define';
import type { SendResult } from '#shared/events/sender';
import { nextStep } from './dispatcher.js';
import { matchesTrigger, triggersFromDeclarations } from './triggers.js';

const decl = defineFunction({
  name: 'mail-send',
  product: 'mail',
  description: 'test',
  routes: [],
  scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
  subscribes: [
    { type: 'io.zenokube.auth.user.created', filters: { source: '/auth/scim' } },
    { type: 'io.zenokube.auth.user.created', path: '/hooks/welcome', retry: 1, backoffDelay: 'PT1S', backoffPolicy: 'linear', deadLetter: false },
  ],
  load: async () => ({ createApp: () => { throw new Error('unused'); } }),
});

describe('triggersFromDeclarations', () => {
  const [a, b] = triggersFromDeclarations([decl], { subscriberBase: 'http://127.0.0.1:8080/_fn', deadLetterSink: 'http://dls/' });

  it('names each subscription and points it at the function on the runner', () => {
    assert.equal(a!.name, 'mail-send:io.zenokube.auth.user.created:0');
    assert.equal(b!.name, 'mail-send:io.zenokube.auth.user.created:1');
    assert.equal(a!.subscriber, 'http://127.0.0.1:8080/_fn/mail-send/_events');
    assert.equal(b!.subscriber, 'http://127.0.0.1:8080/_fn/mail-send/hooks/welcome');
  });
  it('applies the documented delivery defaults and the declared overrides', () => {
    assert.deepEqual([a!.retry, a!.backoffPolicy, a!.backoffDelayMs, a!.deadLetterSink], [9, 'exponential', 500, 'http://dls/']);
    assert.deepEqual([b!.retry, b!.backoffPolicy, b!.backoffDelayMs, b!.deadLetter, b!.deadLetterSink], [1, 'linear', 1000, false, undefined]);
  });
  it('filters by exact match on type and every declared attribute', () => {
    const attrs = { type: 'io.zenokube.auth.user.created', source: '/auth/scim', id: '1', specversion: '1.0' };
    assert.equal(matchesTrigger(a!, attrs), true);
    assert.equal(matchesTrigger(a!, { ...attrs, source: '/auth/scim/' }), false);
    assert.equal(matchesTrigger(a!, { ...attrs, type: 'io.zenokube.auth.user.deleted' }), false);
    assert.equal(matchesTrigger(b!, { ...attrs, source: '/anything' }), true);
  });

  const fail = (status: number | undefined, retryable: boolean): SendResult => ({ ok: false, status, retryable, error: 'x' });
  it('retries 404, 409, 429, 5xx and network errors until delivery.retry is used up', () => {
    assert.deepEqual(nextStep(a!, 1, fail(503, true)), { retryInMs: 1_000 });
    assert.deepEqual(nextStep(a!, 9, fail(undefined, true)), { retryInMs: 500 * 512 });
    assert.deepEqual(nextStep(a!, 10, fail(503, true)), { dead: true });
    assert.deepEqual(nextStep(b!, 1, fail(429, true)), { retryInMs: 1000 });
  });
  it('dead-letters other 4xx answers at once', () => {
    assert.deepEqual(nextStep(a!, 1, fail(400, false)), { dead: true });
  });
});
