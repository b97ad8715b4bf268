import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyObject, randomUUID, sign } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { DpopProofError, verifyDpopProof } from './dpop.js';

// RFC 9449 §4.3: the proof checks that do not need the database.
const HTU = 'https://as.example/auth/t/token';
const NOW = 1_700_000_000;

async function keyOf(alg: 'ES256' | 'EdDSA') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

function proof(k: { privateKey: CryptoKey; jwk: JWK }, alg: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  return new SignJWT({ htm: 'POST', htu: HTU, iat: NOW, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: k.jwk, ...header })
    .sign(k.privateKey);
}

/** An Ed25519 JWS built by hand, for headers jose will not sign (an unknown crit). */
function rawEdDsa(k: { privateKey: CryptoKey; jwk: JWK }, header: Record<string, unknown>, claims: Record<string, unknown>) {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: k.jwk, ...header })}.${enc({ htm: 'POST', htu: HTU, iat: NOW, jti: randomUUID(), ...claims })}`;
  return `${input}.${sign(null, Buffer.from(input), KeyObject.from(k.privateKey as unknown as Parameters<typeof KeyObject.from>[0])).toString('base64url')}`;
}

async function refused(p: Promise<unknown>, code = 'invalid_dpop_proof') {
  await assert.rejects(p, (e: unknown) => e instanceof DpopProofError && e.code === code);
}

describe('DPoP proof verification (RFC 9449 §4.3)', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`accepts an ${alg} proof and gives the RFC 7638 thumbprint of its key, from the cache too`, async () => {
      const k = await keyOf(alg);
      const want = await calculateJwkThumbprint(k.jwk, 'sha256');
      for (let i = 0; i < 2; i++) {
        const v = await verifyDpopProof(await proof(k, alg), { htm: 'POST', htu: HTU }, NOW);
        assert.equal(v.jkt, want);
      }
    });

    it(`§4.3 item 6: refuses an ${alg} proof signed by another key than its jwk, even once that jwk is cached`, async () => {
      const k = await keyOf(alg);
      const other = await keyOf(alg);
      await verifyDpopProof(await proof(k, alg), { htm: 'POST', htu: HTU }, NOW);
      await refused(verifyDpopProof(await proof({ privateKey: other.privateKey, jwk: k.jwk }, alg), { htm: 'POST', htu: HTU }, NOW));
    });

    it(`refuses an ${alg} proof whose signature or payload was altered`, async () => {
      const k = await keyOf(alg);
      const [h, p, s] = (await proof(k, alg)).split('.') as [string, string, string];
      const tampered = Buffer.from(JSON.stringify({ htm: 'POST', htu: HTU, iat: NOW, jti: randomUUID() })).toString('base64url');
      await refused(verifyDpopProof(`${h}.${tampered}.${s}`, { htm: 'POST', htu: HTU }, NOW));
      const flipped = Buffer.from(s, 'base64url');
      flipped[0]! ^= 1;
      await refused(verifyDpopProof(`${h}.${p}.${flipped.toString('base64url')}`, { htm: 'POST', htu: HTU }, NOW));
      await refused(verifyDpopProof(`${h}.${p}.`, { htm: 'POST', htu: HTU }, NOW));
    });
  }

  it('§4.3 item 5: refuses a jwk that does not fit the alg, and a malformed key', async () => {
    const ec = await keyOf('ES256');
    const ed = await keyOf('EdDSA');
    await refused(verifyDpopProof(await proof({ privateKey: ec.privateKey, jwk: ed.jwk }, 'ES256'), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof({ privateKey: ed.privateKey, jwk: ec.jwk }, 'EdDSA'), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof({ privateKey: ec.privateKey, jwk: { ...ec.jwk, y: 'AAAA' } }, 'ES256'), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof({ privateKey: ed.privateKey, jwk: { ...ed.jwk, x: 'not-a-key' } }, 'EdDSA'), { htm: 'POST', htu: HTU }, NOW));
  });

  it('refuses crit and b64 in the header, and an exp or nbf that does not hold', async () => {
    const k = await keyOf('EdDSA');
    assert.ok(await verifyDpopProof(rawEdDsa(k, {}, {}), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(rawEdDsa(k, { crit: ['x'], x: 1 }, {}), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof(k, 'EdDSA', {}, { b64: true }), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof(k, 'EdDSA', { exp: NOW - 1 }), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof(k, 'EdDSA', { exp: 'later' }), { htm: 'POST', htu: HTU }, NOW));
    await refused(verifyDpopProof(await proof(k, 'EdDSA', { nbf: NOW + 30 }), { htm: 'POST', htu: HTU }, NOW));
    assert.ok(await verifyDpopProof(await proof(k, 'EdDSA', { exp: NOW + 30, nbf: NOW - 1 }), { htm: 'POST', htu: HTU }, NOW));
  });
});
