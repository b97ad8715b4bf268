import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { combine as theirCombine, split as theirSplit } from 'shamir-secret-sharing';
import { gfDiv, gfInv, gfMul } from './gf256.js';
import { ShamirError, combine, split } from './shamir.js';

/** Textbook carry-less multiply with branches: the reference the constant-time one must equal. */
function referenceMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= 0x1b;
    b >>= 1;
  }
  return p;
}

function subsets<T>(items: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [head!, ...s]), ...subsets(rest, k)];
}

/** Upper critical value of chi-square with k degrees of freedom (Wilson–Hilferty), z one-sided. */
function chiSquareCritical(k: number, z: number): number {
  const a = 2 / (9 * k);
  return k * (1 - a + z * Math.sqrt(a)) ** 3;
}

function chiSquareUniform(values: Uint8Array | number[], bins: number): number {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[v]!++;
  const expected = values.length / bins;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

describe('GF(2^8) arithmetic', () => {
  it('multiplies every pair exactly as the textbook algorithm does', () => {
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) assert.equal(gfMul(a, b), referenceMul(a, b));
  });

  it('inverts every non-zero element', () => {
    for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInv(a)), 1, `a=${a}`);
    assert.equal(gfDiv(0x53, 0xca), gfMul(0x53, gfInv(0xca)));
    // FIPS-197 §4.2: {53} · {ca} = {01}.
    assert.equal(gfMul(0x53, 0xca), 0x01);
  });
});

describe('shamir split and combine', () => {
  it('round-trips for many share counts and thresholds', () => {
    for (const [n, t] of [[1, 1], [2, 1], [2, 2], [3, 2], [5, 3], [7, 7], [10, 4], [16, 9], [64, 33], [255, 2], [255, 255]] as const) {
      const secret = randomBytes(32);
      const shards = split(secret, n, t);
      assert.equal(shards.length, n);
      for (const s of shards) assert.equal(s.length, 33);
      const xs = new Set(shards.map((s) => s[32]));
      assert.equal(xs.size, n, 'x-coordinates are distinct');
      assert.ok(!xs.has(0), 'no x-coordinate is zero');
      assert.deepEqual(combine(shards.slice(0, t)), secret, `n=${n} t=${t}`);
      assert.deepEqual(combine(shards.slice(n - t)), secret, `n=${n} t=${t} (last shards)`);
      assert.deepEqual(combine(shards), secret, `n=${n} t=${t} (all shards)`);
    }
  });

  it('rebuilds the secret from every subset of threshold size of five shards', () => {
    for (const t of [1, 2, 3, 4, 5]) {
      const secret = randomBytes(32);
      const shards = split(secret, 5, t);
      for (const subset of subsets(shards, t)) assert.deepEqual(combine(subset), secret);
      for (const subset of subsets(shards, t - 1).filter((s) => s.length > 0)) {
        assert.notDeepEqual(combine(subset), secret, 'fewer shards than the threshold do not give the secret');
      }
    }
  });

  it('uses fresh coefficients: splitting the same secret twice gives different shards', () => {
    const secret = randomBytes(32);
    const a = split(secret, 3, 2);
    const b = split(secret, 3, 2);
    assert.notDeepEqual(a, b);
  });

  it('writes shards that the independent shamir-secret-sharing package combines', async () => {
    for (const [n, t] of [[2, 2], [5, 3], [10, 7], [255, 128]] as const) {
      const secret = randomBytes(32);
      const shards = split(secret, n, t);
      const theirs = await theirCombine(shards.slice(0, t).map((s) => new Uint8Array(s)));
      assert.deepEqual(Buffer.from(theirs), secret);
    }
  });

  it('combines shards written by the independent shamir-secret-sharing package', async () => {
    for (const [n, t] of [[2, 2], [5, 3], [10, 7], [255, 128]] as const) {
      const secret = randomBytes(32);
      const theirs = await theirSplit(new Uint8Array(secret), n, t);
      assert.deepEqual(combine(theirs.slice(n - t)), secret);
    }
  });

  it('rejects bad parameters and malformed shards with stable codes', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof ShamirError);
        return err.code;
      }
      return 'no error';
    };
    assert.equal(code(() => split(Buffer.alloc(0), 3, 2)), 'empty_secret');
    assert.equal(code(() => split(randomBytes(32), 0, 1)), 'invalid_shares');
    assert.equal(code(() => split(randomBytes(32), 256, 2)), 'invalid_shares');
    assert.equal(code(() => split(randomBytes(32), 3, 4)), 'invalid_threshold');
    assert.equal(code(() => split(randomBytes(32), 3, 0)), 'invalid_threshold');
    assert.equal(code(() => split(randomBytes(32), 3, 1.5)), 'invalid_threshold');
    const shards = split(randomBytes(32), 3, 2);
    assert.equal(code(() => combine([])), 'no_shards');
    assert.equal(code(() => combine([shards[0]!, shards[0]!])), 'duplicate_shard');
    assert.equal(code(() => combine([shards[0]!, shards[1]!.subarray(1)])), 'shard_length_mismatch');
    assert.equal(code(() => combine([Buffer.from([1])])), 'shard_too_short');
    const zeroX = Buffer.from(shards[1]!);
    zeroX[32] = 0;
    assert.equal(code(() => combine([shards[0]!, zeroX])), 'invalid_shard');
  });

  it('a corrupted shard rebuilds a different secret (which the unseal canary then refuses)', () => {
    const secret = randomBytes(32);
    const shards = split(secret, 5, 3);
    const bad = Buffer.from(shards[1]!);
    bad[7]! ^= 0x01;
    assert.notDeepEqual(combine([shards[0]!, bad, shards[2]!]), secret);
  });
});

describe('shamir secrecy below the threshold', () => {
  // Each byte has its own polynomial, so one long secret gives thousands of independent samples.
  // Significance: z = 5.0 one-sided (p ≈ 3e-7 per test): a correct implementation fails it
  // about once in three million runs; the control below shows the test has power.
  const BYTES = 256 * 64;
  const critical = chiSquareCritical(255, 5.0);

  it('the statistic rejects a sample that does carry the secret (control)', () => {
    const biased = Buffer.alloc(BYTES, 0x2a);
    biased.set(randomBytes(BYTES / 2));
    assert.ok(chiSquareUniform(biased, 256) > critical);
  });

  for (const secretByte of [0x00, 0xff]) {
    it(`one shard of a 2-of-3 split is uniform whatever the secret (every byte 0x${secretByte.toString(16)})`, () => {
      const shards = split(Buffer.alloc(BYTES, secretByte), 3, 2);
      for (const shard of shards) {
        const chi = chiSquareUniform(shard.subarray(0, BYTES), 256);
        assert.ok(chi < critical, `chi-square ${chi.toFixed(1)} >= ${critical.toFixed(1)}`);
      }
    });

    it(`two shards of a 3-of-5 split are jointly uniform whatever the secret (every byte 0x${secretByte.toString(16)})`, () => {
      const shards = split(Buffer.alloc(BYTES, secretByte), 5, 3);
      const [a, b] = [shards[0]!, shards[3]!];
      // Joint distribution of the two shards' high nibbles: 256 cells.
      const joint = Array.from({ length: BYTES }, (_, i) => (a[i]! & 0xf0) | (b[i]! >> 4));
      const chi = chiSquareUniform(joint, 256);
      assert.ok(chi < critical, `chi-square ${chi.toFixed(1)} >= ${critical.toFixed(1)}`);
      // And the value two shards interpolate to carries no trace of the secret either.
      const guess = combine([a, b]).subarray(0, BYTES);
      const chiGuess = chiSquareUniform(guess, 256);
      assert.ok(chiGuess < critical, `chi-square of the interpolated guess ${chiGuess.toFixed(1)}`);
    });
  }
});
