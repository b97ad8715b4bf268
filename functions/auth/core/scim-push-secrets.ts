// The key that seals outbound SCIM credentials at rest, derived from the master key with HKDF
// (RFC 5869) for this purpose only, so a target's token never shares a key with TOTP or signing.
import { hkdfSync } from 'node:crypto';
import { open, seal } from './crypto.js';

export interface PushSealer {
  /** AES-256-GCM; `aad` names the target row, so a sealed token cannot be moved to another. */
  seal(token: string, aad: string): string;
  open(sealed: string, aad: string): string;
}

/** @see https://www.rfc-editor.org/rfc/rfc5869#section-2 */
export function createPushSealer(masterKey: Buffer): PushSealer {
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'zenokube auth scim push credential v1', 32));
  return { seal: (token, aad) => seal(key, token, aad), open: (sealed, aad) => open(key, sealed, aad) };
}
