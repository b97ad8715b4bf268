import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DecryptError, open, openText, seal, sealText } from './aead.js';

describe('AES-256-GCM sealing (shared/crypto/aead)', () => {
  const key = randomBytes(32);
  const plain = Buffer.from('the payload');

  it('opens what it sealed, under the same key and associated data', () => {
    assert.deepEqual(open(key, seal(key, plain, 'row/1'), 'row/1'), plain);
  });

  it('uses a fresh nonce for every seal', () => {
    const a = seal(key, plain, 'row/1');
    const b = seal(key, plain, 'row/1');
    assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
    assert.notDeepEqual(a, b);
  });

  it('refuses another row, another key, a flipped bit, a cut tag and another version', () => {
    const sealed = seal(key, plain, 'row/1');
    assert.throws(() => open(key, sealed, 'row/2'), DecryptError);
    assert.throws(() => open(randomBytes(32), sealed, 'row/1'), DecryptError);
    for (const at of [1, 13, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      assert.throws(() => open(key, bad, 'row/1'), DecryptError, `bit flipped at ${at}`);
    }
    assert.throws(() => open(key, sealed.subarray(0, 20), 'row/1'), DecryptError);
    const other = Buffer.from(sealed);
    other[0] = 2;
    assert.throws(() => open(key, other, 'row/1'), DecryptError);
  });

  it('takes only 32-byte keys (a misuse is a TypeError, not a decryption failure)', () => {
    assert.throws(() => seal(randomBytes(16), plain, 'x'), TypeError);
    assert.throws(() => open(randomBytes(16), seal(key, plain, 'x'), 'x'), TypeError);
  });

  it('seals text for a text column, and refuses another row, another key or a cut value', () => {
    const sealed = sealText(key, 'a private key', 'row/1');
    assert.notEqual(sealed, sealText(key, 'a private key', 'row/1'));
    assert.equal(openText(key, sealed, 'row/1'), 'a private key');
    assert.throws(() => openText(key, sealed, 'row/2'));
    assert.throws(() => openText(randomBytes(32), sealed, 'row/1'));
    assert.throws(() => openText(key, sealed.slice(0, 20), 'row/1'));
  });
});
