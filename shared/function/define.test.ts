import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '#shared/config/index';
import { assertDeclaredEmit, defineFunction, type FunctionDeclaration } from './define.js';
import { resolveFunctionEnv } from './host.js';

const base: FunctionDeclaration = {
  name: 'shop-orders',
  product: 'shop',
  description: 'orders',
  routes: [{ path: '/shop/orders' }],
  scaling: { minScale: 0, maxScale: 3, containerConcurrency: 50, timeoutSeconds: 30 },
  load: async () => ({ createApp: () => { throw new Error('not loaded in this test'); } }),
};

describe('defineFunction', () => {
  it('accepts a well-formed declaration and freezes it', () => {
    const d = defineFunction({ ...base });
    assert.ok(Object.isFrozen(d));
  });

  it('rejects a name that is not <product>-<capability> as a DNS label', () => {
    assert.throws(() => defineFunction({ ...base, name: 'Shop_Orders' }), /not a DNS label/);
    assert.throws(() => defineFunction({ ...base, name: 'other-orders' }), /must start with "shop-"/);
  });

  it('rejects an emitted type that is not io.zenokube.<product>.<noun>.<verb>, or listed twice', () => {
    assert.throws(() => defineFunction({ ...base, emits: ['shop.order.placed'] }), /emitted type "shop.order.placed"/);
    assert.throws(() => defineFunction({ ...base, emits: ['io.zenokube.shop.order.placed', 'io.zenokube.shop.order.placed'] }), /emits lists a type twice/);
    assert.ok(defineFunction({ ...base, emits: ['io.zenokube.shop.order.placed', '*'] }));
  });

  it('lets a function publish only what it declares in emits (any type with *)', () => {
    const d = defineFunction({ ...base, emits: ['io.zenokube.shop.order.placed'] });
    assert.doesNotThrow(() => assertDeclaredEmit(d, 'io.zenokube.shop.order.placed'));
    assert.throws(() => assertDeclaredEmit(d, 'io.zenokube.shop.order.cancelled'), (err: unknown) => err instanceof TypeError && /does not list in emits/.test(err.message));
    assert.throws(() => assertDeclaredEmit(base, 'io.zenokube.shop.order.placed'), TypeError);
    assert.doesNotThrow(() => assertDeclaredEmit({ ...base, emits: ['*'] }, 'io.zenokube.shop.order.cancelled'));
  });

  it('rejects a long-running function that may scale to zero', () => {
    assert.throws(() => defineFunction({ ...base, longRunning: true }), /minScale >= 1/);
  });

  it('rejects an invalid regular-expression route', () => {
    assert.throws(() => defineFunction({ ...base, routes: [{ path: '/shop/(', match: 'RegularExpression' }] }), /not a valid regular expression/);
  });

  it('rejects event types outside the io.zenokube namespace', () => {
    assert.throws(() => defineFunction({ ...base, subscribes: [{ type: 'com.example.thing' }] }), /io\.zenokube/);
  });

  it('rejects a schedule that is not 5-field cron or fires an unsubscribed type', () => {
    const subscribes = [{ type: 'io.zenokube.shop.sweep.due' }];
    assert.throws(
      () => defineFunction({ ...base, subscribes, schedules: [{ name: 's', schedule: '* * *', type: 'io.zenokube.shop.sweep.due' }] }),
      /5-field cron/,
    );
    assert.throws(
      () => defineFunction({ ...base, subscribes, schedules: [{ name: 's', schedule: '* * * * *', type: 'io.zenokube.shop.other.due' }] }),
      /does not subscribe/,
    );
  });
});

describe('resolveFunctionEnv', () => {
  const decl = defineFunction({
    ...base,
    env: {
      SHOP_KEY: { required: true, description: 'signing key', secret: { name: 'shop', key: 'key' } },
      SHOP_MODE: { description: 'mode', value: 'live' },
      SHOP_EXTRA: { description: 'optional' },
    },
  });

  it('takes given values, declared defaults, and leaves optional ones unset', () => {
    const env = resolveFunctionEnv(decl, { SHOP_KEY: 'k', UNRELATED: 'x' });
    assert.deepEqual({ ...env }, { SHOP_KEY: 'k', SHOP_MODE: 'live', SHOP_EXTRA: undefined });
  });

  it('names every missing required variable', () => {
    assert.throws(() => resolveFunctionEnv(decl, { SHOP_KEY: '' }), (err: unknown) => err instanceof ConfigError && /SHOP_KEY: required/.test(err.message));
  });
});
