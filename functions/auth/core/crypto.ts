// Small cryptographic primitives ZenoAuth builds on: random handles, digests, constant-time
// comparison and AES-256-GCM sealing with the row identity as associated data.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random handle of `bytes` bytes (256 bits by default), base64url-encoded. */
export function randomHandle(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a string, hex: how codes, refresh tokens, session ids and client secrets are stored. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ (lengths are not secret). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/** Signing keys at rest: the platform's AES-256-GCM text sealing, the row's identity as associated data. */
export { openText as open, sealText as seal } from '#shared/crypto/aead';
