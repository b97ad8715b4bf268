import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { base32Encode, hotp, matchTotp, otpauthUri, totp, type TotpAlgorithm } from './totp.js';

const SEEDS: Record<TotpAlgorithm, Buffer> = {
  SHA1: Buffer.from('12345678901234567890'),
  SHA256: Buffer.from('12345678901234567890123456789012'),
  SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
};

describe('TOTP (RFC 6238 Appendix B, RFC 4226 Appendix D)', () => {
  it('reproduces the RFC 4226 HOTP values for counters 0 to 9', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    assert.deepEqual(expected.map((_, i) => hotp(SEEDS.SHA1, i, 'SHA1', 6)), expected);
  });

  it('reproduces every RFC 6238 Appendix B value (8 digits, each mode with its own seed)', () => {
    const table: [number, string, string, string][] = [
      [59, '94287082', '46119246', '90693936'],
      [1111111109, '07081804', '68084774', '25091201'],
      [1111111111, '14050471', '67062674', '99943326'],
      [1234567890, '89005924', '91819424', '93441116'],
      [2000000000, '69279037', '90698825', '38618901'],
      [20000000000, '65353130', '77737706', '47863826'],
    ];
    for (const [t, sha1, sha256, sha512] of table) {
      assert.equal(totp(SEEDS.SHA1, t, { algorithm: 'SHA1', digits: 8, period: 30 }), sha1, `SHA1 at ${t}`);
      assert.equal(totp(SEEDS.SHA256, t, { algorithm: 'SHA256', digits: 8, period: 30 }), sha256, `SHA256 at ${t}`);
      assert.equal(totp(SEEDS.SHA512, t, { algorithm: 'SHA512', digits: 8, period: 30 }), sha512, `SHA512 at ${t}`);
    }
    assert.equal(totp(SEEDS.SHA1, 59), '287082', 'the 6-digit code is the 8-digit value mod 10^6');
  });

  it('agrees with otpauth from npm, an independent generator, for every algorithm and length', () => {
    for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
      for (const digits of [6, 8] as const) {
        const secret = randomBytes(32);
        const theirs = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(base32Encode(secret)), algorithm, digits, period: 30 });
        for (const t of [0, 29, 30, 1_700_000_000, 4_102_444_800]) assert.equal(totp(secret, t, { algorithm, digits, period: 30 }), theirs.generate({ timestamp: t * 1000 }));
      }
    }
  });

  it('accepts one step either side and nothing further, and names the matched step', () => {
    const p = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
    const now = 1_700_000_015; // step 56666667, 15 s into it
    const step = Math.floor(now / 30);
    for (const d of [-1, 0, 1]) assert.equal(matchTotp(SEEDS.SHA1, totp(SEEDS.SHA1, now + d * 30, p), now, p), step + d);
    for (const d of [-2, 2]) assert.equal(matchTotp(SEEDS.SHA1, totp(SEEDS.SHA1, now + d * 30, p), now, p), undefined);
    // Window edges: the last second of a step and the first of the next.
    assert.equal(matchTotp(SEEDS.SHA1, totp(SEEDS.SHA1, 59, p), 60 + 29, p), 1);
    assert.equal(matchTotp(SEEDS.SHA1, totp(SEEDS.SHA1, 59, p), 90, p), undefined);
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 28708', '２８７０８２']) assert.equal(matchTotp(SEEDS.SHA1, bad, 59, p), undefined);
  });

  it('writes an otpauth URI that otpauth from npm parses back to the same generator', () => {
    const secret = randomBytes(20);
    const uri = otpauthUri({ issuer: 'Acme Corp', account: 'alice@acme.example', secret, algorithm: 'SHA256', digits: 8, period: 30 });
    assert.match(uri, /^otpauth:\/\/totp\/Acme%20Corp:alice%40acme\.example\?/);
    const parsed = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
    assert.equal(parsed.issuer, 'Acme Corp');
    assert.equal(parsed.label, 'alice@acme.example');
    assert.equal(parsed.algorithm, 'SHA256');
    assert.equal(parsed.digits, 8);
    assert.equal(parsed.generate({ timestamp: 1e12 }), totp(secret, 1e9, { algorithm: 'SHA256', digits: 8, period: 30 }));
  });
});
