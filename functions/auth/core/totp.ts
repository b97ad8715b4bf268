// TOTP (RFC 6238) over HOTP (RFC 4226) with node:crypto's HMAC: SHA-1, SHA-256 or SHA-512, 6 or 8
// digits, a 30 s step from T0 = 0, and the otpauth:// URI authenticator apps read (base32 secret).
// Verification accepts ±1 step and says which step matched, so the caller can refuse a replay.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: 6 | 8;
  /** Seconds per step (X in RFC 6238 §4.1). */
  period: number;
}

export const DEFAULT_TOTP: Readonly<TotpParams> = Object.freeze({ algorithm: 'SHA1', digits: 6, period: 30 });

/** The secret's length per algorithm: the HMAC's output size (RFC 4226 §4 R6 asks at least 128 bits). */
export const SECRET_BYTES: Readonly<Record<TotpAlgorithm, number>> = Object.freeze({ SHA1: 20, SHA256: 32, SHA512: 64 });

const NODE_HASH = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;

/**
 * HOTP value of `counter` (RFC 4226 §5.3): HMAC, dynamic truncation, modulo 10^digits.
 * @see https://www.rfc-editor.org/rfc/rfc4226#section-5.3
 */
export function hotp(secret: Buffer, counter: number, algorithm: TotpAlgorithm, digits: 6 | 8): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new TypeError('the HOTP counter must be a non-negative safe integer');
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(NODE_HASH[algorithm], secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(binary).padStart(digits, '0');
}

/** T = floor((unixTime - T0) / X), RFC 6238 §4.2 with T0 = 0. */
const totpStep = (unixSeconds: number, period: number) => Math.floor(unixSeconds / period);

export function totp(secret: Buffer, unixSeconds: number, p: TotpParams = DEFAULT_TOTP): string {
  return hotp(secret, totpStep(unixSeconds, p.period), p.algorithm, p.digits);
}

/**
 * The step whose code `code` is, among now-1, now, now+1 (RFC 6238 §5.2 "We RECOMMEND that at most
 * one time step is allowed as the network delay"), or undefined. Every candidate is compared, in
 * constant time, so timing says nothing of which one matched.
 */
export function matchTotp(secret: Buffer, code: string, unixSeconds: number, p: TotpParams = DEFAULT_TOTP, window = 1): number | undefined {
  if (!new RegExp(`^[0-9]{${p.digits}}$`).test(code)) return undefined;
  const now = totpStep(unixSeconds, p.period);
  let matched: number | undefined;
  for (let step = now - window; step <= now + window; step++) {
    if (step < 0) continue;
    const ok = timingSafeEqual(Buffer.from(hotp(secret, step, p.algorithm, p.digits)), Buffer.from(code));
    if (ok && matched === undefined) matched = step;
  }
  return matched;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, without padding (as otpauth URIs carry it). */
export function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The key URI authenticator apps scan: otpauth://totp/Issuer:account?secret=…&issuer=…
 * @see https://github.com/google/google-authenticator/wiki/Key-Uri-Format
 */
export function otpauthUri(input: { issuer: string; account: string; secret: Buffer } & TotpParams): string {
  const label = `${encodeURIComponent(input.issuer)}:${encodeURIComponent(input.account)}`;
  const q = new URLSearchParams({ secret: base32Encode(input.secret), issuer: input.issuer, algorithm: input.algorithm, digits: String(input.digits), period: String(input.period) });
  return `otpauth://totp/${label}?${q.toString().replace(/\+/g, '%20')}`;
}
