import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, randomHandle, safeEqual, seal, sha256Hex } from './crypto.js';
import { hashPassword, needsRehash, verifyPassword, ARGON2_PARAMS } from './passwords.js';

describe('seal / open (AES-256-GCM)', () => {
  const key = randomBytes(32);
  it('round-trips with the same associated data', () => {
    assert.equal(open(key, seal(key, 'private jwk', 'tenant:kid'), 'tenant:kid'), 'private jwk');
  });
  it('uses a fresh nonce for every seal', () => {
    assert.notEqual(seal(key, 'x', 'a'), seal(key, 'x', 'a'));
  });
  it('refuses to open under other associated data (a value moved to another row)', () => {
    assert.throws(() => open(key, seal(key, 'secret', 'tenant-a:k1'), 'tenant-b:k1'));
  });
  it('refuses a tampered or truncated value and a wrong key', () => {
    const s = Buffer.from(seal(key, 'secret', 'aad'), 'base64url');
    s[14]! ^= 1;
    assert.throws(() => open(key, s.toString('base64url'), 'aad'));
    assert.throws(() => open(key, 'AAAA', 'aad'));
    assert.throws(() => open(randomBytes(32), seal(key, 'secret', 'aad'), 'aad'));
  });
});

describe('handles and digests', () => {
  it('makes 256-bit handles and compares digests in constant time', () => {
    assert.equal(Buffer.from(randomHandle(), 'base64url').length, 32);
    assert.equal(safeEqual(sha256Hex('a'), sha256Hex('a')), true);
    assert.equal(safeEqual(sha256Hex('a'), sha256Hex('b')), false);
    assert.equal(safeEqual('short', 'longer'), false);
  });
});

describe('Argon2id passwords (RFC 9106)', () => {
  it('hashes with at least the OWASP parameters and verifies', async () => {
    const hash = await hashPassword('correct horse');
    assert.match(hash, new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memorySize},t=${ARGON2_PARAMS.iterations},p=${ARGON2_PARAMS.parallelism}\\$`));
    assert.ok(ARGON2_PARAMS.memorySize >= 19456 && ARGON2_PARAMS.iterations >= 2);
    assert.equal(await verifyPassword(hash, 'correct horse'), true);
    assert.equal(await verifyPassword(hash, 'wrong horse'), false);
  });
  it('asks for a rehash when the parameters changed, and treats a malformed hash as a mismatch', async () => {
    const weak = await hashPassword('pw', { memorySize: 1024, iterations: 1, parallelism: 1 });
    assert.equal(needsRehash(weak), true);
    assert.equal(needsRehash(await hashPassword('pw')), false);
    assert.equal(await verifyPassword('$argon2id$garbage', 'pw'), false);
    assert.equal(await verifyPassword(weak, 'x'.repeat(5000)), false);
  });
});
