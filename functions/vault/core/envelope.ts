// AES-256-GCM with a fresh 96-bit nonce and the row's identity as associated data: the one
// cipher of every layer (root key → KEK → DEK → data). Layout: version(1) | nonce(12) | ct | tag(16).
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

/** Associated data of each layer: a ciphertext is only valid in the row it was written for. */
export const aad = {
  canary: () => 'zenokube/vault/canary',
  keyring: () => 'zenokube/vault/keyring-key',
  /** The canary under the recovery key (auto-unseal): proves recovery shares, opens nothing. */
  recoveryCanary: () => 'zenokube/vault/recovery-canary',
  /** A ceremony's sealed state, bound to its kind and nonce. */
  ceremony: (kind: string, nonce: string) => `zenokube/vault/ceremony/${kind}/${nonce}`,
  kek: (mount: string) => `zenokube/vault/kek/${mount}`,
  dek: (mount: string, context: string) => `zenokube/vault/dek/${mount}/${context}`,
  data: (mount: string, context: string) => `zenokube/vault/data/${mount}/${context}`,
} as const;

/** Context of one KV version: path and version, length-prefixed so no two pairs collide. */
export function kvContext(path: string, version: number): string {
  return `kv/${path.length}:${path}/v${version}`;
}

/** The first canary: a vault that still has it may hold rows written before row MACs. */
export const CANARY_TEXT = Buffer.from('zenokube vault canary v1', 'utf8');
/** The canary of a vault whose every security-relevant row is MAC'd (written at init and by the upgrade). */
export const CANARY_TEXT_V2 = Buffer.from('zenokube vault canary v2', 'utf8');
