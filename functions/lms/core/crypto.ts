// ZenoLMS's small primitives: license keys (random, shown once, stored as an HMAC), and sealing
// private keys at rest with AES-256-GCM, the row's identity bound as associated data.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** `zkl_` then 32 random bytes in base64url: 256 bits, unguessable, safe in a header. */
const KEY_PATTERN = /^zkl_[A-Za-z0-9_-]{43}$/;

export function generateLicenseKey(): string {
  return `zkl_${randomBytes(32).toString('base64url')}`;
}

/** True when `key` has the shape of a license key (checked before any lookup). */
export function isLicenseKey(key: unknown): key is string {
  return typeof key === 'string' && KEY_PATTERN.test(key);
}

/** Hashes license keys for storage and lookup. */
export type KeyHasher = (key: string) => string;

/**
 * HMAC-SHA-256 of the key under a key derived from the master key: a database writer, who lacks
 * the master key, cannot store the hash of a key of their own choosing and so mint a license.
 * @see https://www.rfc-editor.org/rfc/rfc5869 (HKDF)
 */
export function createKeyHasher(masterKey: Buffer): KeyHasher {
  const macKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'zenokube lms license-key mac', 32));
  return (key) => createHmac('sha256', macKey).update(key, 'utf8').digest('hex');
}

/** Compares two hex digests in constant time. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Private keys at rest: the platform's AES-256-GCM text sealing, the row's identity as associated data. */
export { openText as open, sealText as seal } from '#shared/crypto/aead';
