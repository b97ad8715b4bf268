import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VaultError } from './errors.js';
import { parseWrapTtl } from './wrapping.js';

describe('X-Vault-Wrap-TTL', () => {
  it('reads seconds and Go-style durations; absent, blank and zero mean no wrapping', () => {
    assert.equal(parseWrapTtl('60'), 60);
    assert.equal(parseWrapTtl(' 5m '), 300);
    assert.equal(parseWrapTtl('1h30m'), 5400);
    assert.equal(parseWrapTtl('768h'), 768 * 3600);
    for (const none of [null, undefined, '', '   ', '0', '0s', '0.0s']) assert.equal(parseWrapTtl(none), undefined, String(none));
  });

  it('refuses negative, malformed and out-of-bounds values with a 400', () => {
    const cases: [string, string][] = [
      ['-1', 'requested wrap ttl cannot be negative'],
      ['1x', 'time: invalid duration "1x"'],
      ['NaN', 'time: invalid duration "NaN"'],
      ['0.2s', 'wrapping ttl is lower than the minimum of 1s'],
      ['768h1s', 'wrapping ttl exceeds the maximum of 2764800s'],
      ['9'.repeat(400), 'wrapping ttl exceeds the maximum of 2764800s'],
      ['h'.repeat(400), 'time: invalid duration'],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => parseWrapTtl(value),
        (err: unknown) => err instanceof VaultError && err.status === 400 && err.messages[0] === message,
        value.slice(0, 20),
      );
    }
  });
});
