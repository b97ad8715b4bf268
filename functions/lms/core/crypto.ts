// ZenoLMS's small primitives: license keys (random, shown once, stored as an HMAC), and sealing
// private keys at rest with AES-256-GCM, the row's identity bound as associated data.
// @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf (GCM, §8.2 IVs)
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

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

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM with a fresh 96-bit nonce; output base64url(nonce | ciphertext | tag). */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  if (key.length !== 32) throw new TypeError('AES-256-GCM needs a 32-byte key');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens what `seal` made; throws when the key, the AAD (another row) or any byte differs. */
export function open(key: Buffer, sealed: string, aad: string): string {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  const out = Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  const text = out.toString('utf8');
  out.fill(0);
  return text;
}

/** Decodes the configured master key (base64 or base64url of 32 bytes). */
export function decodeMasterKey(value: string): Buffer {
  const key = Buffer.from(value.trim(), /[-_]/.test(value) ? 'base64url' : 'base64');
  if (key.length !== 32) throw new TypeError(`LMS_MASTER_KEY must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}
