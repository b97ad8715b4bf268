// The offline verifier: RFC 8037 Appendix A known answers, then every forged or misused token the
// issue lists, each refused with its own verdict code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, jwtVerify, createLocalJWKSet, type JWK } from 'jose';
import { signCompact, signLicenseToken, signRevocationList, type Signer } from './sign.js';
import type { LicenseClaims } from './token-claims.js';
import { verifyJws, verifyLicense, type ClockStore } from './verifier.js';

// RFC 8037 A.1 / A.2 / A.3 / A.4.
const A1 = { kty: 'OKP', crv: 'Ed25519', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const A2 = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const A3_THUMBPRINT = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k';
const A4_JWS = 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';

const NOW = 1_800_000_000;
const PRODUCT = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const ISSUER = 'https://lms.example.test/lms/acme';

const a1Signer = async (): Promise<Signer> => ({ kid: await calculateJwkThumbprint(A2), key: createPrivateKey({ key: A1, format: 'jwk' }) });
const jwks = (...keys: JWK[]) => ({ keys });
const pub = async (s: Signer): Promise<JWK> => {
  const { x } = (s.key as import('node:crypto').KeyObject).export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: x!, kid: s.kid, alg: 'EdDSA' };
};
async function freshSigner(): Promise<Signer> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const { x } = publicKey.export({ format: 'jwk' });
  return { kid: await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: x! }), key: privateKey };
}

function claims(over: Partial<LicenseClaims> = {}): LicenseClaims {
  return {
    iss: ISSUER, sub: 'lic-1', aud: PRODUCT, iat: NOW - 100, nbf: NOW - 100, exp: NOW + 3600, jti: 'j1', tenant: 'acme',
    entitlements: ['pro'], limits: { seats: 5 }, licenseExpiresAt: NOW + 3600,
    policy: { name: 'annual', maxMachines: 2, floating: true, strict: true, overage: 0, checkInInterval: null, grace: 600 },
    ...over,
  };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('RFC 8037 Appendix A known answers', () => {
  it('derives the A.3 thumbprint as kid from the A.2 public key', async () => {
    assert.equal((await a1Signer()).kid, A3_THUMBPRINT);
  });
  it('signs the A.4 input byte for byte (Ed25519 is deterministic)', async () => {
    const jws = await signCompact({}, new TextEncoder().encode('Example of Ed25519 signing'), createPrivateKey({ key: A1, format: 'jwk' }));
    assert.equal(jws, A4_JWS);
  });
  it('verifies the A.4 JWS with the A.2 key (A.5) and refuses it with one signature bit flipped', async () => {
    const good = await verifyJws(A4_JWS, jwks(A2));
    assert.ok(good.ok);
    assert.equal(new TextDecoder().decode(good.payload), 'Example of Ed25519 signing');
    const [h, p, s] = A4_JWS.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[5]! ^= 0x01;
    const bad = await verifyJws(`${h}.${p}.${sig.toString('base64url')}`, jwks(A2));
    assert.equal(bad.ok ? 'VALID' : bad.verdict.code, 'BAD_SIGNATURE');
  });
});

describe('verifyLicense', () => {
  it('accepts a genuine license signed with the A.1 key and reports what it grants', async () => {
    const s = await a1Signer();
    const v = await verifyLicense(await signLicenseToken(s, claims()), { keys: jwks(await pub(s)), audience: PRODUCT, issuer: ISSUER, now: NOW });
    assert.equal(v.code, 'VALID');
    assert.equal(v.valid, true);
    assert.deepEqual(v.claims?.entitlements, ['pro']);
    assert.equal(v.kind, 'license');
  });

  it('is verified by plain jose jwtVerify with the JWKS (no Zenokube code)', async () => {
    const s = await a1Signer();
    const token = await signLicenseToken(s, claims({ iat: Math.floor(Date.now() / 1000), nbf: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 }));
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks(await pub(s))), { algorithms: ['EdDSA'], audience: PRODUCT, issuer: ISSUER, typ: 'license+jwt' });
    assert.equal(payload.sub, 'lic-1');
    assert.equal(protectedHeader.kid, A3_THUMBPRINT);
  });

  it('refuses a token re-signed with another key under the same kid', async () => {
    const s = await a1Signer();
    const other = await freshSigner();
    const token = await signLicenseToken({ kid: s.kid, key: other.key }, claims());
    const v = await verifyLicense(token, { keys: jwks(await pub(s)), audience: PRODUCT, now: NOW });
    assert.equal(v.code, 'BAD_SIGNATURE');
    assert.equal(v.valid, false);
  });

  it('refuses a token signed by a key that is not pinned', async () => {
    const s = await a1Signer();
    const v = await verifyLicense(await signLicenseToken(await freshSigner(), claims()), { keys: jwks(await pub(s)), audience: PRODUCT, now: NOW });
    assert.equal(v.code, 'UNKNOWN_KEY');
  });

  it('refuses alg none and alg HS256 before looking at a key', async () => {
    const s = await a1Signer();
    const body = b64(claims());
    const none = `${b64({ alg: 'none', typ: 'license+jwt' })}.${body}.`;
    assert.equal((await verifyLicense(none, { keys: jwks(await pub(s)), audience: PRODUCT, now: NOW })).code, 'ALG_NOT_ALLOWED');
    const hs = `${b64({ alg: 'HS256', typ: 'license+jwt', kid: s.kid })}.${body}.${Buffer.alloc(32).toString('base64url')}`;
    assert.equal((await verifyLicense(hs, { keys: jwks(await pub(s)), audience: PRODUCT, now: NOW })).code, 'ALG_NOT_ALLOWED');
  });

  it('refuses tampered claims (entitlements added after signing)', async () => {
    const s = await a1Signer();
    const [h, , sig] = (await signLicenseToken(s, claims())).split('.') as [string, string, string];
    const forged = `${h}.${b64(claims({ entitlements: ['pro', 'enterprise'] }))}.${sig}`;
    assert.equal((await verifyLicense(forged, { keys: jwks(await pub(s)), audience: PRODUCT, now: NOW })).code, 'BAD_SIGNATURE');
  });

  it('refuses garbage, wrong audience, wrong issuer and wrong type', async () => {
    const s = await a1Signer();
    const keys = jwks(await pub(s));
    assert.equal((await verifyLicense('not.a.jws', { keys, audience: PRODUCT, now: NOW })).code, 'MALFORMED');
    assert.equal((await verifyLicense('x'.repeat(70_000), { keys, audience: PRODUCT, now: NOW })).code, 'MALFORMED');
    const token = await signLicenseToken(s, claims());
    assert.equal((await verifyLicense(token, { keys, audience: 'another-product', now: NOW })).code, 'WRONG_AUDIENCE');
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, issuer: 'https://evil.test/lms/acme', now: NOW })).code, 'WRONG_ISSUER');
    const list = await signRevocationList(s, { iss: ISSUER, aud: PRODUCT, iat: NOW, jti: 'r', revoked: [] });
    assert.equal((await verifyLicense(list, { keys, audience: PRODUCT, now: NOW })).code, 'WRONG_TYPE');
    const noClaims = await signCompact({ typ: 'license+jwt', kid: s.kid }, new TextEncoder().encode('{"sub":1}'), s.key);
    assert.equal((await verifyLicense(noClaims, { keys, audience: PRODUCT, now: NOW })).code, 'MALFORMED');
  });

  it('honours nbf, exp and the grace period with a controlled clock', async () => {
    const s = await a1Signer();
    const keys = jwks(await pub(s));
    const token = await signLicenseToken(s, claims({ iat: NOW, nbf: NOW + 1000, exp: NOW + 2000 }));
    const at = (t: number) => verifyLicense(token, { keys, audience: PRODUCT, now: t });
    assert.equal((await at(NOW + 500)).code, 'NOT_YET_VALID');
    assert.equal((await at(NOW + 1999)).code, 'VALID');
    const grace = await at(NOW + 2000);
    assert.equal(grace.code, 'GRACE_PERIOD');
    assert.equal(grace.valid, true);
    assert.equal((await at(NOW + 2599)).code, 'GRACE_PERIOD');
    const expired = await at(NOW + 2600);
    assert.equal(expired.code, 'EXPIRED');
    assert.equal(expired.valid, false);
  });

  it('binds node-locked tokens and machine files to the local fingerprint', async () => {
    const s = await a1Signer();
    const keys = jwks(await pub(s));
    const machineFile = await signLicenseToken(s, claims({ fingerprint: 'fp-A', machine: { id: 'm1', name: null } }));
    assert.equal((await verifyLicense(machineFile, { keys, audience: PRODUCT, fingerprint: 'fp-A', now: NOW })).kind, 'machine');
    assert.equal((await verifyLicense(machineFile, { keys, audience: PRODUCT, fingerprint: 'fp-A', now: NOW })).code, 'VALID');
    assert.equal((await verifyLicense(machineFile, { keys, audience: PRODUCT, fingerprint: 'fp-B', now: NOW })).code, 'FINGERPRINT_MISMATCH');
    assert.equal((await verifyLicense(machineFile, { keys, audience: PRODUCT, now: NOW })).code, 'FINGERPRINT_MISMATCH');
  });

  it('refuses a license on the signed revocation list, and a list that does not verify', async () => {
    const s = await a1Signer();
    const keys = jwks(await pub(s));
    const token = await signLicenseToken(s, claims());
    const list = await signRevocationList(s, { iss: ISSUER, aud: PRODUCT, iat: NOW, jti: 'r1', revoked: ['lic-0', 'lic-1'] });
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, revocations: list, now: NOW })).code, 'REVOKED');
    const other = await signRevocationList(s, { iss: ISSUER, aud: PRODUCT, iat: NOW, jti: 'r2', revoked: ['lic-9'] });
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, revocations: other, now: NOW })).code, 'VALID');
    const forgedList = await signRevocationList(await freshSigner(), { iss: ISSUER, aud: PRODUCT, iat: NOW, jti: 'r3', revoked: [] });
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, revocations: forgedList, now: NOW })).code, 'REVOCATION_LIST_INVALID');
    const foreignList = await signRevocationList(s, { iss: ISSUER, aud: 'other', iat: NOW, jti: 'r4', revoked: [] });
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, revocations: foreignList, now: NOW })).code, 'REVOCATION_LIST_INVALID');
  });

  it('refuses a clock set back before a time already seen, and before the token was issued', async () => {
    const s = await a1Signer();
    const keys = jwks(await pub(s));
    let stored: number | undefined;
    const clock: ClockStore = { read: () => stored, write: (t) => { stored = t; } };
    const token = await signLicenseToken(s, claims({ exp: NOW + 10_000 }));
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, clock, now: NOW + 5000 })).code, 'VALID');
    assert.equal(stored, NOW + 5000);
    const back = await verifyLicense(token, { keys, audience: PRODUCT, clock, now: NOW + 1000 });
    assert.equal(back.code, 'CLOCK_ROLLBACK');
    assert.equal(back.valid, false);
    assert.equal(stored, NOW + 5000);
    assert.equal((await verifyLicense(token, { keys, audience: PRODUCT, clock, now: NOW + 5001 })).code, 'VALID');
    const future = await signLicenseToken(s, claims({ iat: NOW + 90_000, nbf: NOW + 90_000, exp: NOW + 99_000 }));
    assert.equal((await verifyLicense(future, { keys, audience: PRODUCT, now: NOW })).code, 'CLOCK_ROLLBACK');
  });

  it('verifies tokens of a retired key next to those of the new one (rotation)', async () => {
    const old = await a1Signer();
    const next = await freshSigner();
    const keys = jwks(await pub(old), await pub(next));
    assert.equal((await verifyLicense(await signLicenseToken(old, claims()), { keys, audience: PRODUCT, now: NOW })).code, 'VALID');
    assert.equal((await verifyLicense(await signLicenseToken(next, claims()), { keys, audience: PRODUCT, now: NOW })).code, 'VALID');
    assert.ok(await exportJWK((next.key as import('node:crypto').KeyObject)));
  });
});
