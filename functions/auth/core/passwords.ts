// Password hashing with Argon2id (RFC 9106) through hash-wasm, at OWASP's minimum or above:
// m = 19456 KiB (19 MiB), t = 2, p = 1. Hashes are PHC strings, so parameters travel with them
// and a hash made under older parameters is upgraded at the next successful login. The work runs
// in a pool of worker threads (argon2-pool.ts), started on the first hash, never on the main thread.
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createArgon2Pool, PasswordHashingBusyError, type Argon2Params, type Argon2Pool } from './argon2-pool.js';

/** @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id */
export const ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({ memorySize: 19456, iterations: 2, parallelism: 1 });

/** Longest password accepted (bytes): bounds the work an attacker can make us do. */
export const MAX_PASSWORD_BYTES = 1024;

/**
 * The process's pool: two workers at most (each holds 19 MiB while it hashes), and 32 jobs
 * waiting behind them, about a second of work; beyond that a request is refused with 503
 * (PasswordHashingBusyError) rather than left waiting.
 */
const POOL_WORKERS = Math.min(2, availableParallelism());
const POOL_MAX_QUEUED = 32;

let pool: Argon2Pool | undefined;

/** The shared pool, made on first use so that a function that never hashes starts no worker. */
function argon2Pool(): Argon2Pool {
  return (pool ??= createArgon2Pool({ workers: POOL_WORKERS, maxQueued: POOL_MAX_QUEUED }));
}

/** Hashes `password`; rejects with PasswordHashingBusyError (503) when the pool is full. */
export async function hashPassword(password: string, params: Argon2Params = ARGON2_PARAMS): Promise<string> {
  return argon2Pool().hash(password, randomBytes(16), params);
}

/**
 * Verifies `password` against a PHC-encoded Argon2id hash; a malformed hash verifies false. A
 * full pool rejects with PasswordHashingBusyError, never answers false: a refused check must not
 * count as a wrong password.
 */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  return argon2Pool().verify(hash, password).catch((err: unknown) => {
    if (err instanceof PasswordHashingBusyError) throw err;
    return false;
  });
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
  dummy ??= hashPassword('not-a-real-password').catch((err: unknown) => {
    dummy = undefined;
    throw err;
  });
  await verifyPassword(await dummy, password);
  return false;
}
