// Shamir's secret sharing over GF(2^8), byte by byte, in HashiCorp Vault's shard format:
// the y bytes followed by the x byte (33 bytes for a 32-byte key).
// @see https://dl.acm.org/doi/10.1145/359168.359176 (Shamir, "How to share a secret", 1979)
// @see https://github.com/hashicorp/vault/blob/main/shamir/shamir.go
import { randomBytes, randomInt } from 'node:crypto';
import { gfAdd, gfDiv, gfMul } from './gf256.js';

const MAX_SHARES = 255;

/** A misuse of split/combine with a stable code; the unseal route maps it to a 400. */
export class ShamirError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ShamirError';
    this.code = code;
  }
}

/** Distinct non-zero x-coordinates, a random permutation of 1..255 cut to `n`. */
function randomCoordinates(n: number): Uint8Array {
  const xs = new Uint8Array(MAX_SHARES);
  for (let i = 0; i < MAX_SHARES; i++) xs[i] = i + 1;
  for (let i = MAX_SHARES - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs.subarray(0, n);
}

/** Horner evaluation of the polynomial with `coeffs[0]` as intercept at `x`. */
function evaluate(coeffs: Uint8Array, x: number): number {
  let acc = 0;
  for (let i = coeffs.length - 1; i >= 0; i--) acc = gfAdd(gfMul(acc, x), coeffs[i]!);
  return acc;
}

/**
 * Splits `secret` into `shares` shards of which any `threshold` rebuild it.
 * Each byte gets its own polynomial with fresh random coefficients; 1 <= threshold <= shares <= 255.
 * With threshold 1 every shard carries the secret itself (Vault's single-key case).
 */
export function split(secret: Uint8Array, shares: number, threshold: number): Buffer[] {
  if (!(secret instanceof Uint8Array) || secret.length === 0) throw new ShamirError('empty_secret', 'the secret must not be empty');
  if (!Number.isInteger(shares) || shares < 1 || shares > MAX_SHARES) {
    throw new ShamirError('invalid_shares', `shares must be an integer from 1 to ${MAX_SHARES}`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) {
    throw new ShamirError('invalid_threshold', 'threshold must be an integer from 1 to the number of shares');
  }
  const xs = randomCoordinates(shares);
  const out = Array.from({ length: shares }, (_, i) => {
    const shard = Buffer.alloc(secret.length + 1);
    shard[secret.length] = xs[i]!;
    return shard;
  });
  const coeffs = new Uint8Array(threshold);
  for (let b = 0; b < secret.length; b++) {
    coeffs[0] = secret[b]!;
    if (threshold > 1) coeffs.set(randomBytes(threshold - 1), 1);
    for (let i = 0; i < shares; i++) out[i]![b] = evaluate(coeffs, xs[i]!);
  }
  coeffs.fill(0);
  return out;
}

/**
 * Rebuilds the secret from shards by Lagrange interpolation at x = 0. Any number of
 * distinct shards can be given; fewer than the threshold yield an unrelated value, which is
 * why unsealing verifies the result against a canary before trusting it.
 */
export function combine(shards: readonly Uint8Array[]): Buffer {
  if (shards.length === 0) throw new ShamirError('no_shards', 'at least one shard is needed');
  if (shards.length > MAX_SHARES) throw new ShamirError('too_many_shards', `at most ${MAX_SHARES} shards`);
  const len = shards[0]!.length;
  if (len < 2) throw new ShamirError('shard_too_short', 'a shard has at least 2 bytes');
  const xs = new Uint8Array(shards.length);
  const seen = new Set<number>();
  shards.forEach((s, i) => {
    if (s.length !== len) throw new ShamirError('shard_length_mismatch', 'all shards must have the same length');
    const x = s[len - 1]!;
    if (x === 0) throw new ShamirError('invalid_shard', 'a shard has x-coordinate 0');
    if (seen.has(x)) throw new ShamirError('duplicate_shard', 'two shards share an x-coordinate');
    seen.add(x);
    xs[i] = x;
  });
  // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR.
  // The x-coordinates are public, so computing the basis once is not a leak.
  const basis = new Uint8Array(shards.length);
  for (let i = 0; i < shards.length; i++) {
    let l = 1;
    for (let j = 0; j < shards.length; j++) {
      if (i !== j) l = gfMul(l, gfDiv(xs[j]!, gfAdd(xs[j]!, xs[i]!)));
    }
    basis[i] = l;
  }
  const secret = Buffer.alloc(len - 1);
  for (let b = 0; b < len - 1; b++) {
    let acc = 0;
    for (let i = 0; i < shards.length; i++) acc ^= gfMul(shards[i]![b]!, basis[i]!);
    secret[b] = acc;
  }
  return secret;
}
