// Product signing keys on the real PostgreSQL: rotation keeps the old key published, the private
// key is sealed to its row, and a row planted or altered by a database writer is never used.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createKeyStore, KeyIntegrityError } from './keys.js';
import { products, signingKeys } from './schema.js';

describe('product signing keys (Ed25519, kid = RFC 7638 thumbprint)', () => {
  let tdb: TestDatabase;
  const masterKey = randomBytes(32);
  before(async () => {
    tdb = await createTestDatabase({ max: 3 });
  });
  after(async () => {
    await tdb?.drop();
  });
  const product = async (tenant = 'acme') => (await tdb.database.db.insert(products).values({ tenant, name: `p-${randomBytes(4).toString('hex')}` }).returning())[0]!;

  it('rotates: one active key, the retired one still published', async () => {
    const keys = createKeyStore(masterKey);
    const p = await product();
    const first = await tdb.database.transaction((tx) => keys.rotate(tx, 'acme', p.id));
    const second = await tdb.database.transaction((tx) => keys.rotate(tx, 'acme', p.id));
    assert.deepEqual(second.retired, [first.kid]);
    assert.equal((await keys.signer(tdb.database.db, 'acme', p.id))?.kid, second.kid);
    const jwks = await keys.jwks(tdb.database.db, 'acme', p.id);
    assert.deepEqual(jwks.keys.map((k) => k.kid), [first.kid, second.kid]);
    assert.ok(jwks.keys.every((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && k.alg === 'EdDSA' && !('d' in k)));
    const rows = await tdb.database.db.select().from(signingKeys).where(eq(signingKeys.productId, p.id));
    assert.ok(rows.every((r) => !r.privateJwkSealed.includes(r.publicJwk.x!)), 'the private JWK is not stored in clear');
  });

  it('keeps tenants apart: another tenant sees no key of the product', async () => {
    const keys = createKeyStore(masterKey);
    const p = await product();
    await tdb.database.transaction((tx) => keys.rotate(tx, 'acme', p.id));
    assert.equal(await keys.signer(tdb.database.db, 'globex', p.id), undefined);
    assert.deepEqual((await keys.jwks(tdb.database.db, 'globex', p.id)).keys, []);
  });

  it('refuses a key moved to another product, or sealed under another master key', async () => {
    const keys = createKeyStore(masterKey);
    const a = await product();
    const b = await product();
    const { kid } = await tdb.database.transaction((tx) => keys.rotate(tx, 'acme', a.id));
    const [row] = await tdb.database.db.select().from(signingKeys).where(eq(signingKeys.kid, kid));
    // A database writer copies product a's key to product b, to sign b's licenses with it.
    await tdb.database.db.insert(signingKeys).values({ ...row!, productId: b.id });
    await assert.rejects(keys.signer(tdb.database.db, 'acme', b.id), KeyIntegrityError);
    assert.deepEqual((await keys.jwks(tdb.database.db, 'acme', b.id)).keys, []);
    // A writer who swaps in their own public key gets it published nowhere.
    await tdb.database.db.update(signingKeys).set({ publicJwk: { ...row!.publicJwk, x: randomBytes(32).toString('base64url') } }).where(and(eq(signingKeys.productId, a.id), eq(signingKeys.kid, kid)));
    assert.deepEqual((await createKeyStore(masterKey).jwks(tdb.database.db, 'acme', a.id)).keys, []);
    await assert.rejects(createKeyStore(randomBytes(32)).signer(tdb.database.db, 'acme', a.id), KeyIntegrityError);
  });
});
