// AES-256-GCM with a fresh 96-bit nonce and the row's identity as associated data: the one
// cipher of every product that seals data at rest. Layout: version(1) | nonce(12) | ct | tag(16).
// @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf (GCM, §8.2.2 random IVs)
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;
const KEY_BYTES = 32;

/** A ciphertext that does not open under this key and context: wrong key, moved row or tampering. */
export class DecryptError extends Error {
  readonly code = 'decrypt_failed';
  constructor() {
    super('ciphertext does not authenticate under this key and context');
    this.name = 'DecryptError';
  }
}

/** Encrypts `plaintext` under `key`, binding `aad` (the row identity). */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Buffer {
  if (key.length !== KEY_BYTES) throw new TypeError('AES-256-GCM needs a 32-byte key');
  // §8.2.2: a random 96-bit IV per invocation; no key here seals anywhere near 2^32 messages.
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
}

/** Decrypts a `seal` output; throws DecryptError when anything does not authenticate. */
export function open(key: Uint8Array, sealed: Uint8Array, aad: string): Buffer {
  if (key.length !== KEY_BYTES) throw new TypeError('AES-256-GCM needs a 32-byte key');
  if (sealed.length < 1 + NONCE + TAG || sealed[0] !== VERSION) throw new DecryptError();
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 1 + NONCE));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(buf.subarray(buf.length - TAG));
  const out = decipher.update(buf.subarray(1 + NONCE, buf.length - TAG));
  try {
    decipher.final();
  } catch {
    out.fill(0);
    throw new DecryptError();
  }
  return out;
}

const TEXT_NONCE = 12;

/**
 * A string sealed the same way, as text for a text column: base64url(nonce | ciphertext | tag),
 * with no version byte (the layout ZenoAuth's sealed signing keys have always had).
 */
export function sealText(key: Buffer, plaintext: string, aad: string): string {
  if (key.length !== KEY_BYTES) throw new TypeError('AES-256-GCM needs a 32-byte key');
  const nonce = randomBytes(TEXT_NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens what `sealText` made; throws when the key, the associated data or any byte differs. */
export function openText(key: Buffer, sealed: string, aad: string): string {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < TEXT_NONCE + TAG) throw new Error('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, TEXT_NONCE));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - TAG));
  const out = Buffer.concat([decipher.update(raw.subarray(TEXT_NONCE, raw.length - TAG)), decipher.final()]);
  const text = out.toString('utf8');
  out.fill(0);
  return text;
}
