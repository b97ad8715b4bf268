// Password hashing with Argon2id (RFC 9106) through hash-wasm, at OWASP's minimum or above:
// m = 19456 KiB (19 MiB), t = 2, p = 1. Hashes are PHC strings, so parameters travel with them
// and a hash made under older parameters is upgraded at the next successful login.
import { argon2Verify, argon2id } from 'hash-wasm';
import { randomBytes } from 'node:crypto';

interface Argon2Params {
  /** Memory in KiB. */
  memorySize: number;
  iterations: number;
  parallelism: number;
}

/** @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id */
export const ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({ memorySize: 19456, iterations: 2, parallelism: 1 });

/** Longest password accepted (bytes): bounds the work an attacker can make us do. */
export const MAX_PASSWORD_BYTES = 1024;

export async function hashPassword(password: string, params: Argon2Params = ARGON2_PARAMS): Promise<string> {
  return argon2id({
    password,
    salt: randomBytes(16),
    ...params,
    hashLength: 32,
    outputType: 'encoded',
  });
}

/** Verifies `password` against a PHC-encoded Argon2id hash; a malformed hash verifies false. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  try {
    return await argon2Verify({ hash, password });
  } catch {
    return false;
  }
}

/** True when `hash` was made with other parameters (or another algorithm) than `params`. */
export function needsRehash(hash: string, params: Argon2Params = ARGON2_PARAMS): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
  if (!m) return true;
  return Number(m[1]) !== params.memorySize || Number(m[2]) !== params.iterations || Number(m[3]) !== params.parallelism;
}

let dummy: Promise<string> | undefined;

/**
 * Burns the time of one verification when the account does not exist, so that response time
 * does not reveal which usernames exist.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummy ??= hashPassword('not-a-real-password');
  await verifyPassword(await dummy, password);
  return false;
}
