// Per-product Ed25519 signing keys: created with the product, rotated on demand (the retired key
// stays published so what it signed keeps verifying), the private half sealed at rest.
// A row is trusted only if its sealed private key opens under the master key with the row's
// identity as AAD and derives the stored public key: a database writer cannot plant a key.
// @see https://www.rfc-editor.org/rfc/rfc7638 (kid = JWK thumbprint)
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { calculateJwkThumbprint, type JSONWebKeySet, type JWK } from 'jose';
import type { Queryable } from '#shared/db/index';
import { open, seal } from './crypto.js';
import { signingKeys, type SigningKey } from './schema.js';
import type { Signer } from './sign.js';

const aadOf = (tenant: string, productId: string, kid: string) => `lms/signing-key/${tenant}/${productId}/${kid}`;

/** Thrown when a key row does not open: tampered, moved, or sealed under another master key. */
export class KeyIntegrityError extends Error {
  override readonly name = 'KeyIntegrityError';
}

export interface KeyStore {
  /** Creates a new active key for the product, retiring the current one (inside `tx`). */
  rotate(tx: Queryable, tenant: string, productId: string): Promise<{ kid: string; retired: string[] }>;
  /** The product's active signer. */
  signer(q: Queryable, tenant: string, productId: string): Promise<Signer | undefined>;
  /** The product's public keys, active and retired, as a JWKS. */
  jwks(q: Queryable, tenant: string, productId: string): Promise<JSONWebKeySet>;
}

interface Opened {
  privateKey: KeyObject;
  publicJwk: JWK;
}

export function createKeyStore(masterKey: Buffer): KeyStore {
  // Opened rows by kid and sealed value: a re-sealed or replaced row is opened afresh.
  const cache = new Map<string, Opened>();

  function openRow(row: SigningKey): Opened {
    const id = `${row.kid}:${row.privateJwkSealed}`;
    const hit = cache.get(id);
    if (hit) return hit;
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: JSON.parse(open(masterKey, row.privateJwkSealed, aadOf(row.tenant, row.productId, row.kid))), format: 'jwk' });
    } catch (err) {
      throw new KeyIntegrityError(`signing key ${row.kid} does not open`, { cause: err });
    }
    const { x, crv, kty } = createPublicKey(privateKey).export({ format: 'jwk' });
    if (x !== row.publicJwk.x || crv !== 'Ed25519') throw new KeyIntegrityError(`signing key ${row.kid} does not match its public key`);
    const opened = { privateKey, publicJwk: { kty: kty!, crv, x, kid: row.kid, alg: 'EdDSA', use: 'sig' } };
    if (cache.size > 1000) cache.clear();
    cache.set(id, opened);
    return opened;
  }

  const rows = (q: Queryable, tenant: string, productId: string) =>
    q.select().from(signingKeys).where(and(eq(signingKeys.tenant, tenant), eq(signingKeys.productId, productId))).orderBy(asc(signingKeys.createdAt));

  return {
    async rotate(tx, tenant, productId) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const publicJwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
      const kid = await calculateJwkThumbprint({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x }, 'sha256');
      const privateJwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
      const retired = await tx
        .update(signingKeys)
        .set({ status: 'retired', retiredAt: sql`now()` })
        .where(and(eq(signingKeys.tenant, tenant), eq(signingKeys.productId, productId), eq(signingKeys.status, 'active')))
        .returning({ kid: signingKeys.kid });
      await tx.insert(signingKeys).values({
        tenant,
        productId,
        kid,
        publicJwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x },
        privateJwkSealed: seal(masterKey, privateJwk, aadOf(tenant, productId, kid)),
        status: 'active',
      });
      return { kid, retired: retired.map((r) => r.kid) };
    },
    async signer(q, tenant, productId) {
      const [row] = await q
        .select()
        .from(signingKeys)
        .where(and(eq(signingKeys.tenant, tenant), eq(signingKeys.productId, productId), eq(signingKeys.status, 'active')));
      return row ? { kid: row.kid, key: openRow(row).privateKey } : undefined;
    },
    async jwks(q, tenant, productId) {
      const keys: JWK[] = [];
      for (const row of await rows(q, tenant, productId)) {
        try {
          keys.push(openRow(row).publicJwk);
        } catch (err) {
          // A row that does not open is never published.
          if (!(err instanceof KeyIntegrityError)) throw err;
        }
      }
      return { keys };
    },
  };
}
