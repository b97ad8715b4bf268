import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatUserCode, generateUserCode, normaliseUserCode } from './device-codes.js';

describe('user codes (RFC 8628 §6.1)', () => {
  it('draws 8 characters of the base-20 alphabet, every letter of it over many codes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const code = generateUserCode();
      assert.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      for (const ch of code) seen.add(ch);
    }
    assert.equal(seen.size, 20);
  });

  it('shows the code as XXXX-XXXX and reads it back ignoring case, spaces and dashes', () => {
    const code = generateUserCode();
    const shown = formatUserCode(code);
    assert.match(shown, /^[A-Z]{4}-[A-Z]{4}$/);
    assert.equal(normaliseUserCode(shown), code);
    assert.equal(normaliseUserCode(` ${shown.toLowerCase().replace('-', ' ')} `), code);
  });

  it('refuses input that cannot be a user code', () => {
    for (const bad of ['', 'BCDF-GHJ', 'BCDF-GHJKL', 'ABCD-EFGH', 'BCDF-GHJ1', 'B'.repeat(65), 'BCDF\u0000GHJK']) assert.equal(normaliseUserCode(bad), undefined);
  });
});
