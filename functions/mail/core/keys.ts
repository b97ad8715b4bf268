// The key hierarchy: the service key (configuration; ZenoVault in a cluster) seals one random key
// per data subject; a message's key is derived from the keys of all its subjects, so the message
// opens only while every one of them exists. The blind-index key makes address lookups without
// the address in clear.
// @see https://www.rfc-editor.org/rfc/rfc5869 (HKDF)
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { aad, open, seal } from './cipher.js';

/** Keys derived once from the service key; the service key itself is not kept. */
export interface MailKeys {
  /** Seals and opens subject keys. */
  readonly wrap: Buffer;
  /** HMAC key of the blind indexes (addresses, idempotency keys, unsubscribe tokens). */
  readonly index: Buffer;
  /** Seals tenant configuration secrets: SMTP passwords, Graph client secrets, DKIM private keys. */
  readonly config: Buffer;
}

const derive = (ikm: Uint8Array, info: string, salt: Uint8Array = Buffer.alloc(0)) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

/** Derives the working keys from the 32-byte service key (separate keys per purpose, RFC 5869 §3.2). */
export function deriveMailKeys(serviceKey: Uint8Array): MailKeys {
  if (serviceKey.length !== 32) throw new TypeError('the service key is 32 bytes');
  return Object.freeze({ wrap: derive(serviceKey, 'zenokube/mail/wrap/v1'), index: derive(serviceKey, 'zenokube/mail/blind-index/v1'), config: derive(serviceKey, 'zenokube/mail/config/v1') });
}

/** A fresh subject key and its sealed form for `mail.subjects`. */
export function newSubjectKey(keys: MailKeys, tenant: string, subject: string): { key: Buffer; wrapped: Buffer } {
  const key = randomBytes(32);
  return { key, wrapped: seal(keys.wrap, key, aad.subjectKey(tenant, subject)) };
}

/** Opens a sealed subject key; a key moved to another subject's row does not open. */
export function unwrapSubjectKey(keys: MailKeys, tenant: string, subject: string, wrapped: Uint8Array): Buffer {
  return open(keys.wrap, wrapped, aad.subjectKey(tenant, subject));
}

/**
 * The message key: HKDF over the subject keys in subject-id order, salted with the message id.
 * Without any one subject key it cannot be derived, so erasing one subject makes every message
 * that concerns them unreadable.
 */
export function deriveMessageKey(subjectKeys: ReadonlyMap<string, Buffer>, messageId: string): Buffer {
  const ids = [...subjectKeys.keys()].sort();
  if (ids.length === 0) throw new TypeError('a message concerns at least one subject');
  const ikm = Buffer.concat(ids.map((id) => subjectKeys.get(id)!));
  try {
    return derive(ikm, 'zenokube/mail/message/v1', Buffer.from(messageId, 'utf8'));
  } finally {
    ikm.fill(0);
  }
}

/** Keyed blind index of a value (an address is lower-cased first: RFC 5321 §2.4 local parts are case-sensitive in theory, not in practice). */
export function blindIndex(keys: MailKeys, kind: 'address' | 'idempotency' | 'request' | 'unsubscribe', value: string): string {
  return createHmac('sha256', keys.index).update(`${kind}\0${value}`).digest('base64url');
}
