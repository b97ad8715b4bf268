// Keys for the second factor, derived from the master key with HKDF-SHA-256 (RFC 5869), one per
// purpose, so that a TOTP seal and a recovery-code MAC never share a key with the signing keys.
import { createHmac, hkdfSync } from 'node:crypto';
import { open, seal } from './crypto.js';

export interface MfaSecrets {
  /** Seals a TOTP secret (base64url of its bytes) with AES-256-GCM; `aad` names its row. */
  sealSecret(secret: Buffer, aad: string): string;
  openSecret(sealed: string, aad: string): Buffer;
  /** HMAC-SHA-256 of a recovery code, hex. */
  macRecoveryCode(code: string): string;
  /** HMAC-SHA-256 binding a WebAuthn public key to its tenant, user and credential id, hex. */
  macPasskey(parts: readonly string[]): string;
}

/** @see https://www.rfc-editor.org/rfc/rfc5869#section-2 */
export function createMfaSecrets(masterKey: Buffer): MfaSecrets {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `zenokube auth ${info}`, 32));
  const sealKey = derive('totp seal v1');
  const macKey = derive('recovery code mac v1');
  const passkeyKey = derive('passkey mac v1');
  return {
    sealSecret: (secret, aad) => seal(sealKey, secret.toString('base64url'), aad),
    openSecret: (sealed, aad) => Buffer.from(open(sealKey, sealed, aad), 'base64url'),
    macRecoveryCode: (code) => createHmac('sha256', macKey).update(code.replace(/[\s-]/g, '').toUpperCase()).digest('hex'),
    // Length-prefixed parts: no two different lists MAC the same bytes.
    macPasskey: (parts) => createHmac('sha256', passkeyKey).update(parts.map((x) => `${x.length}:${x}`).join('|')).digest('hex'),
  };
}
