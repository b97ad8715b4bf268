import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createKeyStore } from './keys.js';
import { signAccessToken, verifyOwnJwt } from './tokens.js';
import { createTenant } from './tenants.js';
import { signingKeys } from './schema.js';

describe('signing keys (RFC 7638 kids, sealed at rest, rotation)', () => {
  let tdb: TestDatabase;
  let a: string;
  let b: string;
  const master = randomBytes(32);
  before(async () => {
    tdb = await createTestDatabase();
    a = (await createTenant(tdb.database.db, 'keys-a', 'A'))!.id;
    b = (await createTenant(tdb.database.db, 'keys-b', 'B'))!.id;
  });
  after(() => tdb.drop());

  it('creates an Ed25519 and an RS256 key per tenant with thumbprint kids and sealed private halves', async () => {
    const keys = createKeyStore(tdb.database.db, master);
    const { keys: jwks } = await keys.jwks(a);
    assert.deepEqual(jwks.map((k) => k.alg).sort(), ['EdDSA', 'RS256']);
    for (const k of jwks) {
      assert.equal(k.kid, await calculateJwkThumbprint(k, 'sha256'));
      assert.equal(k.d, undefined);
    }
    const rows = await tdb.database.db.select().from(signingKeys);
    for (const r of rows) assert.ok(!r.privateJwkSealed.includes('"d"'));
  });

  it('keeps a retired key in the JWKS so its tokens still verify after rotation', async () => {
    const keys = createKeyStore(tdb.database.db, master);
    const issuer = 'http://localhost/auth/keys-a';
    const before = signAccessToken(await keys.signer(a), { issuer, tenantId: a, sub: 's', clientId: 'c', scope: '', audience: [issuer], ttlSeconds: 60 });
    const rotated = await tdb.database.transaction((tx) => keys.rotate(tx, a));
    assert.equal(rotated.created.length, 2);
    assert.equal(rotated.retired.length, 2);
    const jwks = (await keys.jwks(a)).keys as JWK[];
    assert.equal(jwks.length, 4);
    const after = signAccessToken(await keys.signer(a), { issuer, tenantId: a, sub: 's', clientId: 'c', scope: '', audience: [issuer], ttlSeconds: 60 });
    const set = createLocalJWKSet({ keys: jwks });
    await jwtVerify(before.token, set, { issuer });
    await jwtVerify(after.token, set, { issuer });
    assert.notEqual(JSON.parse(Buffer.from(before.token.split('.')[0]!, 'base64url').toString()).kid, JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()).kid);
  });

  it('does not verify one tenant\'s token with another tenant\'s keys', async () => {
    const keys = createKeyStore(tdb.database.db, master);
    const t = signAccessToken(await keys.signer(a), { issuer: 'http://x/auth/keys-a', tenantId: a, sub: 's', clientId: 'c', scope: '', audience: ['x'], ttlSeconds: 60 });
    await assert.rejects(verifyOwnJwt(keys, b, 'http://x/auth/keys-a', t.token, { algs: ['EdDSA'] }), { name: 'TokenRejected' });
    const ok = await verifyOwnJwt(keys, a, 'http://x/auth/keys-a', t.token, { algs: ['EdDSA'], typ: 'at+jwt' });
    assert.equal(ok.client_id, 'c');
  });

  it('cannot open the keys under another master key', async () => {
    const other = createKeyStore(tdb.database.db, randomBytes(32));
    await assert.rejects(other.signer(a));
  });
});
