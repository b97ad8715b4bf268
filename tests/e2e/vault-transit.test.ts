// Transit end to end with node-vault (fetch with Vault's shapes where node-vault has no call):
// keys, encrypt/decrypt, versions and rotation, derived keys, rewrap, datakey, hmac, sign/verify,
// random, hash, batches with per-item errors in one unsealer round trip, hostile input, policies,
// and a database writer tampering with transit_keys rows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, createPublicKey, hkdfSync, randomBytes, verify as verifySignature } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createUnsealerClient } from '#functions/vault/api/unsealer-client';
import { readSealEpoch } from '#functions/vault/core/audit';
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, statusOf as status, type VaultServer } from './vault-server.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString();

/**
 * A counting relay between the api and the unsealer: every internal call passes through it, so a
 * test can see how many unwrap round trips a request took.
 */
async function startRelay(): Promise<{ server: Server; url: string; setTarget(t: string): void; unwraps: () => number; reset(): void }> {
  let target = '';
  let unwraps = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.url?.includes('/internal/v1/dek/unwrap')) unwraps++;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
      try {
        const answer = await fetch(target + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    setTarget: (t) => (target = t),
    unwraps: () => unwraps,
    reset: () => (unwraps = 0),
  };
}

describe('transit engine', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let vault: ReturnType<typeof nodeVault>;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let rootToken: string;
  let unsealKey: string;
  const internalKey = randomBytes(32);

  /** A raw call with Vault's shapes: status and parsed body. */
  const call = async (method: string, path: string, body?: unknown, token = rootToken): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-vault-token': token },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const put = (path: string, body: unknown, token?: string) => call('PUT', path, body, token);
  /** A 400 in Vault's shape: `{"errors":[…]}` with a message. */
  const assertVault400 = (r: { status: number; body: any }, pattern?: RegExp) => {
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0, JSON.stringify(r.body));
    if (pattern) assert.match(r.body.errors.join('; '), pattern);
  };

  before(async () => {
    tdb = await createTestDatabase();
    relay = await startRelay();
    vs = await startVaultServer(tdb.database, { VAULT_UNSEALER_URL: `${relay.url}/_fn/vault-unsealer`, VAULT_INTERNAL_KEY: internalKey.toString('base64') });
    relay.setTarget(vs.baseUrl);
    vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    unsealKey = init.keys[0];
    vault.token = rootToken;
    await vault.unseal({ key: init.keys[0] });
  });
  after(async () => {
    await vs?.close();
    await new Promise<void>((r) => (relay ? relay.server.close(() => r()) : r()));
    await tdb?.drop();
  });

  it('encrypts and decrypts with the vault:v1: format, with fresh nonces', async () => {
    await vault.write('transit/keys/orders', {});
    const a = await vault.encryptData({ name: 'orders', plaintext: b64('card 4111') });
    const b = await vault.encryptData({ name: 'orders', plaintext: b64('card 4111') });
    assert.match(a.data.ciphertext, /^vault:v1:[A-Za-z0-9+/]+=*$/);
    assert.notEqual(a.data.ciphertext, b.data.ciphertext);
    assert.equal(a.data.key_version, 1);
    const d = await vault.decryptData({ name: 'orders', ciphertext: a.data.ciphertext });
    assert.equal(unb64(d.data.plaintext), 'card 4111');
  });

  it('rotates: new ciphertexts use the latest version, old ones still decrypt until min_decryption_version', async () => {
    const old = (await vault.encryptData({ name: 'orders', plaintext: b64('v1 data') })).data.ciphertext;
    const rotated = await vault.write('transit/keys/orders/rotate', {});
    assert.equal(rotated.data.latest_version, 2);
    const fresh = (await vault.encryptData({ name: 'orders', plaintext: b64('v2 data') })).data.ciphertext;
    assert.match(fresh, /^vault:v2:/);
    assert.equal(unb64((await vault.decryptData({ name: 'orders', ciphertext: old })).data.plaintext), 'v1 data');
    await vault.write('transit/keys/orders/config', { min_decryption_version: 2 });
    const refused = await put('transit/decrypt/orders', { ciphertext: old });
    assertVault400(refused, /disallowed by policy \(too old\)/);
    const info = await vault.transitReadKey({ name: 'orders' });
    assert.deepEqual(Object.keys(info.data.keys), ['1', '2']);
    assert.equal(info.data.min_decryption_version, 2);
    assert.equal(info.data.type, 'aes256-gcm96');
    assert.equal(info.data.supports_encryption, true);
    assert.equal(info.data.supports_signing, false);
    // Encrypting with an explicit older version is refused below the minimum too.
    assertVault400(await put('transit/encrypt/orders', { plaintext: b64('x'), key_version: 1 }));
    // min_encryption_version: encryption below it is refused, the latest is used by default.
    await vault.write('transit/keys/orders/rotate', {});
    await vault.write('transit/keys/orders/config', { min_encryption_version: 3 });
    assertVault400(await put('transit/encrypt/orders', { plaintext: b64('x'), key_version: 2 }), /minimum encryption key version/);
    assert.equal((await vault.encryptData({ name: 'orders', plaintext: b64('x') })).data.key_version, 3);
    // Config values outside the key's versions are refused.
    assertVault400(await put('transit/keys/orders/config', { min_decryption_version: 9 }));
    assertVault400(await put('transit/keys/orders/config', { min_encryption_version: 1 }), /min encryption version/);
  });

  it('refuses tampered ciphertext, another key, and malformed input with 400', async () => {
    const ct = (await vault.encryptData({ name: 'orders', plaintext: b64('x') })).data.ciphertext as string;
    const raw = Buffer.from(ct.slice('vault:v3:'.length), 'base64');
    raw[14]! ^= 1;
    assert.equal(await status(vault.decryptData({ name: 'orders', ciphertext: `vault:v3:${raw.toString('base64')}` })), 400);
    await vault.write('transit/keys/other', {});
    assert.equal(await status(vault.decryptData({ name: 'other', ciphertext: ct.replace('vault:v3:', 'vault:v1:') })), 400);
    assert.equal(await status(vault.decryptData({ name: 'orders', ciphertext: 'garbage' })), 400);
    assert.equal(await status(vault.encryptData({ name: 'orders', plaintext: 'not base64!' })), 400);
    assert.equal(await status(vault.decryptData({ name: 'missing-key', ciphertext: ct })), 400);
  });

  it('creates each key type and describes it as Vault does', async () => {
    await vault.transitCreateKey({ name: 'cc', type: 'chacha20-poly1305' });
    const cc = (await vault.encryptData({ name: 'cc', plaintext: b64('chacha') })).data.ciphertext as string;
    assert.match(cc, /^vault:v1:/);
    assert.equal(unb64((await vault.decryptData({ name: 'cc', ciphertext: cc })).data.plaintext), 'chacha');
    // A ChaCha20 ciphertext is not an AES key's.
    assertVault400(await put('transit/decrypt/other', { ciphertext: cc }));

    const ed = (await put('transit/keys/ed', { type: 'ed25519' })).body.data;
    assert.equal(ed.type, 'ed25519');
    assert.equal(ed.supports_signing, true);
    assert.equal(ed.supports_encryption, false);
    assert.equal(Buffer.from(ed.keys['1'].public_key, 'base64').length, 32);
    const ec = (await put('transit/keys/ec', { type: 'ecdsa-p256' })).body.data;
    assert.match(ec.keys['1'].public_key, /BEGIN PUBLIC KEY/);
    assert.equal(ec.keys['1'].name, 'P-256');
    // Signing keys do not encrypt.
    assertVault400(await put('transit/encrypt/ed', { plaintext: b64('x') }), /does not support encryption/);
  });

  it('refuses unknown key types and options it does not implement, in Vault\'s shape', async () => {
    assertVault400(await put('transit/keys/k1', { type: 'aes512-xyz' }), /unknown key type aes512-xyz/);
    assertVault400(await put('transit/keys/k1', { type: 'rsa-2048' }), /not supported/);
    assertVault400(await put('transit/keys/k1', { exportable: true }), /exportable/);
    assertVault400(await put('transit/keys/k1', { type: 'ecdsa-p256', derived: true }), /derivation/);
    assertVault400(await put('transit/keys/orders/config', { exportable: true }), /exportable/);
    assertVault400(await put('transit/encrypt/k1', { plaintext: b64('x'), type: 'ed25519' }), /not supported for this operation/);
    assert.equal((await call('GET', 'transit/keys/k1')).status, 404);
  });

  it('derived keys: context is required, each context has its own key (HKDF)', async () => {
    await vault.write('transit/keys/tenants', { derived: true });
    const info = await vault.transitReadKey({ name: 'tenants' });
    assert.equal(info.data.derived, true);
    assert.equal(info.data.kdf, 'hkdf_sha256');
    assertVault400(await put('transit/encrypt/tenants', { plaintext: b64('x') }), /missing 'context' for key derivation/);
    const a = (await vault.encryptData({ name: 'tenants', plaintext: b64('for a'), context: b64('tenant-a') })).data.ciphertext;
    assert.equal(unb64((await vault.decryptData({ name: 'tenants', ciphertext: a, context: b64('tenant-a') })).data.plaintext), 'for a');
    assertVault400(await put('transit/decrypt/tenants', { ciphertext: a, context: b64('tenant-b') }), /message authentication failed/);
    assertVault400(await put('transit/decrypt/tenants', { ciphertext: a }), /missing 'context'/);
    assertVault400(await put('transit/encrypt/tenants', { plaintext: b64('x'), context: 'not base64!' }), /illegal base64/);
    assertVault400(await put('transit/encrypt/tenants', { plaintext: b64('x'), context: Buffer.alloc(2000).toString('base64') }), /context must be at most/);
    // Encrypt on a missing key with a context creates a derived key, as Vault's upsert does.
    await vault.encryptData({ name: 'upserted', plaintext: b64('x'), context: b64('c') });
    assert.equal((await vault.transitReadKey({ name: 'upserted' })).data.derived, true);
    // A batch mixing items with and without context is refused as a whole.
    assertVault400(await put('transit/encrypt/tenants', { batch_input: [{ plaintext: b64('a'), context: b64('c') }, { plaintext: b64('b') }] }), /context should be set/);
  });

  it('rewraps to the latest version without exposing the plaintext', async () => {
    await vault.write('transit/keys/rw', {});
    const v1 = (await vault.encryptData({ name: 'rw', plaintext: b64('keep me') })).data.ciphertext as string;
    await vault.write('transit/keys/rw/rotate', {});
    const rewrapped = await vault.rewrapData({ name: 'rw', ciphertext: v1 });
    assert.match(rewrapped.data.ciphertext, /^vault:v2:/);
    assert.equal(rewrapped.data.key_version, 2);
    assert.equal(rewrapped.data.plaintext, undefined);
    assert.equal(unb64((await vault.decryptData({ name: 'rw', ciphertext: rewrapped.data.ciphertext })).data.plaintext), 'keep me');
    const batch = await put('transit/rewrap/rw', { batch_input: [{ ciphertext: v1 }, { ciphertext: rewrapped.data.ciphertext }] });
    assert.equal(batch.status, 200);
    assert.deepEqual(batch.body.data.batch_results.map((r: { key_version: number }) => r.key_version), [2, 2]);
  });

  it('concurrent rotations and config writes all land, each version once, the row still authenticates', async () => {
    await vault.write('transit/keys/busy', {});
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, () => put('transit/keys/busy/rotate', {})),
      put('transit/keys/busy/config', { deletion_allowed: true }),
    ]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200, 200]);
    const info = (await vault.transitReadKey({ name: 'busy' })).data;
    assert.equal(info.latest_version, 7);
    assert.deepEqual(Object.keys(info.keys), ['1', '2', '3', '4', '5', '6', '7']);
    assert.equal(info.deletion_allowed, true);
    const ct = (await vault.encryptData({ name: 'busy', plaintext: b64('x') })).data.ciphertext;
    assert.match(ct, /^vault:v7:/);
  });

  it('datakey: plaintext and wrapped, the ciphertext opens to the same key', async () => {
    const p = (await put('transit/datakey/plaintext/rw', {})).body.data;
    assert.equal(Buffer.from(p.plaintext, 'base64').length, 32);
    assert.match(p.ciphertext, /^vault:v2:/);
    const opened = (await vault.decryptData({ name: 'rw', ciphertext: p.ciphertext })).data.plaintext;
    assert.equal(opened, p.plaintext);
    const w = (await put('transit/datakey/wrapped/rw', { bits: 512 })).body.data;
    assert.equal(w.plaintext, undefined);
    assert.equal(Buffer.from((await vault.decryptData({ name: 'rw', ciphertext: w.ciphertext })).data.plaintext, 'base64').length, 64);
    assertVault400(await put('transit/datakey/wrapped/rw', { bits: 100 }), /bits/);
    assertVault400(await put('transit/datakey/other-kind/rw', {}));
    assertVault400(await put('transit/datakey/plaintext/tenants', {}), /missing 'context'/);
  });

  it('hmac and verify: per version, per algorithm, old versions refused after min_decryption_version', async () => {
    await vault.write('transit/keys/mac', {});
    const h1 = (await put('transit/hmac/mac', { input: b64('message') })).body.data.hmac as string;
    assert.match(h1, /^vault:v1:/);
    assert.equal((await put('transit/hmac/mac', { input: b64('message') })).body.data.hmac, h1);
    assert.notEqual((await put('transit/hmac/mac', { input: b64('other') })).body.data.hmac, h1);
    const h512 = (await put('transit/hmac/mac/sha2-512', { input: b64('message') })).body.data.hmac as string;
    assert.equal(Buffer.from(h512.slice('vault:v1:'.length), 'base64').length, 64);
    assert.equal((await put('transit/verify/mac', { input: b64('message'), hmac: h1 })).body.data.valid, true);
    assert.equal((await put('transit/verify/mac', { input: b64('messagf'), hmac: h1 })).body.data.valid, false);
    assert.equal((await put('transit/verify/mac/sha2-512', { input: b64('message'), hmac: h512 })).body.data.valid, true);
    // Another key's HMAC of the same input differs.
    assert.notEqual((await put('transit/hmac/rw', { input: b64('message'), key_version: 1 })).body.data.hmac, h1);
    assertVault400(await put('transit/hmac/mac/md5', { input: b64('message') }), /unsupported hash algorithm/);
    await vault.write('transit/keys/mac/rotate', {});
    await vault.write('transit/keys/mac/config', { min_decryption_version: 2 });
    assertVault400(await put('transit/verify/mac', { input: b64('message'), hmac: h1 }), /too old/);
    const batch = await put('transit/hmac/mac', { batch_input: [{ input: b64('a'), reference: 'r1' }, { input: b64('b') }] });
    assert.equal(batch.status, 200);
    assert.equal(batch.body.data.batch_results[0].reference, 'r1');
    assert.match(batch.body.data.batch_results[1].hmac, /^vault:v2:/);
  });

  it('sign and verify with ed25519 and ecdsa-p256; the published public keys verify independently', async () => {
    const msg = b64('signed statement');
    const edSig = (await put('transit/sign/ed', { input: msg })).body.data;
    assert.match(edSig.signature, /^vault:v1:/);
    assert.equal((await put('transit/verify/ed', { input: msg, signature: edSig.signature })).body.data.valid, true);
    assert.equal((await put('transit/verify/ed', { input: b64('forged statement'), signature: edSig.signature })).body.data.valid, false);
    const edPub = (await vault.transitReadKey({ name: 'ed' })).data.keys['1'].public_key as string;
    const edKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(edPub, 'base64').toString('base64url') }, format: 'jwk' });
    assert.ok(verifySignature(null, Buffer.from('signed statement'), edKey, Buffer.from(edSig.signature.slice(9), 'base64')));

    const ecSig = (await put('transit/sign/ec', { input: msg })).body.data.signature as string;
    assert.equal((await put('transit/verify/ec', { input: msg, signature: ecSig })).body.data.valid, true);
    const ecPem = (await vault.transitReadKey({ name: 'ec' })).data.keys['1'].public_key as string;
    assert.ok(verifySignature('sha256', Buffer.from('signed statement'), ecPem, Buffer.from(ecSig.slice(9), 'base64')));
    const jws = (await put('transit/sign/ec/sha2-384', { input: msg, marshaling_algorithm: 'jws' })).body.data.signature as string;
    assert.ok(verifySignature('sha384', Buffer.from('signed statement'), { key: ecPem, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.slice(9), 'base64url')));
    assert.equal((await put('transit/verify/ec/sha2-384', { input: msg, signature: jws, marshaling_algorithm: 'jws' })).body.data.valid, true);
    assert.equal((await put('transit/verify/ec', { input: msg, signature: jws, marshaling_algorithm: 'jws' })).body.data.valid, false);

    // Rotation: new signatures use v2, v1 signatures verify until min_decryption_version.
    await vault.write('transit/keys/ed/rotate', {});
    assert.match((await put('transit/sign/ed', { input: msg })).body.data.signature, /^vault:v2:/);
    await vault.write('transit/keys/ed/config', { min_decryption_version: 2 });
    assertVault400(await put('transit/verify/ed', { input: msg, signature: edSig.signature }), /too old/);

    // A derived ed25519 key signs per context and hands back that context's public key.
    await put('transit/keys/ed-derived', { type: 'ed25519', derived: true });
    assertVault400(await put('transit/sign/ed-derived', { input: msg }), /missing 'context'/);
    const ds = (await put('transit/sign/ed-derived', { input: msg, context: b64('alice') })).body.data;
    assert.equal(Buffer.from(ds.publickey, 'base64').length, 32);
    assert.equal((await put('transit/verify/ed-derived', { input: msg, signature: ds.signature, context: b64('alice') })).body.data.valid, true);
    assert.equal((await put('transit/verify/ed-derived', { input: msg, signature: ds.signature, context: b64('bob') })).body.data.valid, false);

    // Batches of sign and verify.
    const signed = await put('transit/sign/ec', { batch_input: [{ input: b64('one') }, { input: b64('two') }] });
    assert.equal(signed.status, 200);
    const checks = await put('transit/verify/ec', {
      batch_input: [
        { input: b64('one'), signature: signed.body.data.batch_results[0].signature },
        { input: b64('two'), signature: signed.body.data.batch_results[0].signature },
        { input: b64('two'), signature: 'no prefix' },
      ],
    });
    assert.equal(checks.status, 400);
    assert.deepEqual(checks.body.data.batch_results.map((r: { valid?: boolean }) => r.valid), [true, false, undefined]);
    assert.match(checks.body.data.batch_results[2].error, /no prefix/);
    assertVault400(await put('transit/sign/orders', { input: msg }), /does not support signing/);
  });

  it('random bytes and hashes', async () => {
    const hex = (await put('transit/random', { bytes: 16, format: 'hex' })).body.data.random_bytes as string;
    assert.match(hex, /^[0-9a-f]{32}$/);
    const fromUrl = (await put('transit/random/24', {})).body.data.random_bytes as string;
    assert.equal(Buffer.from(fromUrl, 'base64').length, 24);
    assert.notEqual((await put('transit/random/24', {})).body.data.random_bytes, fromUrl);
    assert.equal(Buffer.from((await put('transit/random/platform/8', {})).body.data.random_bytes, 'base64').length, 8);
    assertVault400(await put('transit/random', { bytes: 1024 * 1024 }), /cannot be greater/);
    assertVault400(await put('transit/random', { format: 'binary' }), /unsupported encoding format/);
    assertVault400(await put('transit/random/moon/8', {}), /entropy source/);

    const input = Buffer.from('hash me');
    assert.equal((await put('transit/hash', { input: input.toString('base64') })).body.data.sum, createHash('sha256').update(input).digest('hex'));
    assert.equal((await put('transit/hash/sha2-512', { input: input.toString('base64'), format: 'base64' })).body.data.sum, createHash('sha512').update(input).digest('base64'));
    assert.equal((await put('transit/hash', { input: input.toString('base64'), algorithm: 'sha2-384' })).body.data.sum, createHash('sha384').update(input).digest('hex'));
    assertVault400(await put('transit/hash/md5', { input: input.toString('base64') }), /unsupported hash algorithm/);
    assertVault400(await put('transit/hash', { input: 'a b' }), /illegal base64/);
  });

  it('handles batches and creates a missing key on encrypt', async () => {
    const res = await vault.write('transit/encrypt/batchy', { batch_input: [{ plaintext: b64('a') }, { plaintext: b64('b') }] });
    assert.equal(res.data.batch_results.length, 2);
    const dec = await vault.write('transit/decrypt/batchy', { batch_input: res.data.batch_results.map((r: { ciphertext: string }) => ({ ciphertext: r.ciphertext })) });
    assert.deepEqual(dec.data.batch_results.map((r: { plaintext: string }) => unb64(r.plaintext)), ['a', 'b']);
    // node-vault's transitListKeys sends the LIST verb, which Node's HTTP parser refuses.
    const list = await vault.list('transit/keys');
    assert.ok(['batchy', 'orders', 'other'].every((k) => list.data.keys.includes(k)));
  });

  it('a batch with one bad item: the others succeed, the bad one carries its error, the answer is 400', async () => {
    const enc = await put('transit/encrypt/batchy', {
      batch_input: [{ plaintext: b64('one'), reference: 'a' }, { plaintext: 'not*base64', reference: 'b' }, { plaintext: b64('three') }],
    });
    assert.equal(enc.status, 400);
    const [r1, r2, r3] = enc.body.data.batch_results;
    assert.match(r1.ciphertext, /^vault:v1:/);
    assert.equal(r1.reference, 'a');
    assert.equal(r2.ciphertext, undefined);
    assert.match(r2.error, /illegal base64/);
    assert.equal(r2.reference, 'b');
    assert.match(r3.ciphertext, /^vault:v1:/);
    // partial_failure_response_code replaces the 400 when some items succeeded.
    const partial = await put('transit/encrypt/batchy', { partial_failure_response_code: 207, batch_input: [{ plaintext: b64('ok') }, { plaintext: '%%' }] });
    assert.equal(partial.status, 207);
    // Decrypt: one tampered ciphertext among good ones.
    const dec = await put('transit/decrypt/batchy', { batch_input: [{ ciphertext: r1.ciphertext }, { ciphertext: 'vault:v1:AAAA' }, { ciphertext: r3.ciphertext }] });
    assert.equal(dec.status, 400);
    assert.equal(unb64(dec.body.data.batch_results[0].plaintext), 'one');
    assert.ok(dec.body.data.batch_results[1].error);
    assert.equal(unb64(dec.body.data.batch_results[2].plaintext), 'three');
  });

  it('a batch takes one unsealer round trip, across versions', async () => {
    await vault.write('transit/keys/bulk', {});
    const items = Array.from({ length: 1000 }, (_, i) => ({ plaintext: b64(`item ${i}`) }));
    relay.reset();
    const enc = await put('transit/encrypt/bulk', { batch_input: items });
    assert.equal(enc.status, 200);
    assert.equal(relay.unwraps(), 1);
    await vault.write('transit/keys/bulk/rotate', {});
    const v2 = (await put('transit/encrypt/bulk', { batch_input: items.slice(0, 10) })).body.data.batch_results;
    const mixed = [...enc.body.data.batch_results.slice(0, 500), ...v2].map((r: { ciphertext: string }) => ({ ciphertext: r.ciphertext }));
    relay.reset();
    const dec = await put('transit/decrypt/bulk', { batch_input: mixed });
    assert.equal(dec.status, 200);
    assert.equal(relay.unwraps(), 1);
    assert.equal(unb64(dec.body.data.batch_results[499].plaintext), 'item 499');
    assert.equal(unb64(dec.body.data.batch_results[509].plaintext), 'item 9');
    relay.reset();
    const rewrapped = await put('transit/rewrap/bulk', { batch_input: mixed });
    assert.equal(rewrapped.status, 200);
    assert.equal(relay.unwraps(), 1);
  });

  it('the unsealer\'s batch unwrap is signed, bounded, and all or nothing', async () => {
    const [row] = await tdb.database.query<{ versions: string }>(sql`select versions::text as versions from vault.transit_keys where name = 'bulk'`);
    const versions = JSON.parse(row!.versions) as Record<string, { wrapped: string }>;
    const context = (v: number) => `transit/4:bulk/v${v}`;
    const send = async (body: unknown, signed = true) => {
      const path = '/internal/v1/dek/unwrap-batch';
      const text = JSON.stringify(body);
      const res = await fetch(`${vs.baseUrl}/_fn/vault-unsealer${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(signed ? { [SIGNATURE_HEADER]: signRequest(internalKey, 'POST', path, text) } : {}) },
        body: text,
      });
      return { status: res.status, body: (await res.json()) as { deks?: string[]; errors?: string[] } };
    };
    const good = await send({ mount: 'transit/', items: [1, 2].map((v) => ({ context: context(v), wrapped: versions[String(v)]!.wrapped })) });
    assert.equal(good.status, 200);
    assert.deepEqual(good.body.deks!.map((d) => Buffer.from(d, 'base64').length), [32, 32]);
    // Version 2's wrapped key presented as version 1's: refused, and nothing is handed out.
    const swapped = await send({ mount: 'transit/', items: [{ context: context(1), wrapped: versions['1']!.wrapped }, { context: context(1), wrapped: versions['2']!.wrapped }] });
    assert.equal(swapped.status, 400);
    assert.equal(swapped.body.deks, undefined);
    const tooMany = Array.from({ length: 201 }, () => ({ context: context(1), wrapped: versions['1']!.wrapped }));
    assert.equal((await send({ mount: 'transit/', items: tooMany })).status, 400);
    assert.equal((await send({ mount: 'transit/', items: [] })).status, 400);
    assert.equal((await send({ mount: 'transit/', items: [{ context: context(1), wrapped: versions['1']!.wrapped }] }, false)).status, 401);
  });

  it('the api\'s client opens more keys than one call takes in as few calls as the bound allows', async () => {
    const [row] = await tdb.database.query<{ versions: string }>(sql`select versions::text as versions from vault.transit_keys where name = 'bulk'`);
    const versions = JSON.parse(row!.versions) as Record<string, { wrapped: string }>;
    const items = Array.from({ length: 450 }, (_, i) => {
      const v = (i % 2) + 1;
      return { context: `transit/4:bulk/v${v}`, wrapped: Buffer.from(versions[String(v)]!.wrapped, 'base64') };
    });
    const client = createUnsealerClient({ url: `${relay.url}/_fn/vault-unsealer`, key: internalKey, sealEpoch: () => readSealEpoch(tdb.database.db) });
    try {
      relay.reset();
      const deks = await client.unwrapDeks('transit/', items);
      assert.equal(relay.unwraps(), 3);
      assert.equal(deks.length, 450);
      assert.ok(deks[0]!.equals(deks[2]!) && deks[1]!.equals(deks[3]!) && !deks[0]!.equals(deks[1]!));
    } finally {
      await client.close();
    }
  });

  it('ciphertexts are Vault\'s format, derived keys Vault\'s HKDF: opened independently with the version\'s material', async () => {
    /** A key version's material, from the unsealer as the api receives it. */
    const material = async (name: string, version: number) => {
      const [row] = await tdb.database.query<{ versions: string }>(sql`select versions::text as versions from vault.transit_keys where name = ${name}`);
      const wrapped = (JSON.parse(row!.versions) as Record<string, { wrapped: string }>)[String(version)]!.wrapped;
      const path = '/internal/v1/dek/unwrap';
      const text = JSON.stringify({ mount: 'transit/', context: `transit/${name.length}:${name}/v${version}`, wrapped });
      const res = await fetch(`${vs.baseUrl}/_fn/vault-unsealer${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signRequest(internalKey, 'POST', path, text) },
        body: text,
      });
      return Buffer.from(((await res.json()) as { dek: string }).dek, 'base64');
    };
    const openGcm = (key: Buffer, ciphertext: string, prefix: string) => {
      assert.ok(ciphertext.startsWith(prefix));
      const raw = Buffer.from(ciphertext.slice(prefix.length), 'base64');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString();
    };
    const plain = (await vault.encryptData({ name: 'batchy', plaintext: b64('plain key') })).data.ciphertext as string;
    assert.equal(openGcm(await material('batchy', 1), plain, 'vault:v1:'), 'plain key');
    const derived = (await vault.encryptData({ name: 'tenants', plaintext: b64('derived key'), context: b64('tenant-a') })).data.ciphertext as string;
    const key = Buffer.from(hkdfSync('sha256', await material('tenants', 1), Buffer.alloc(0), Buffer.from('tenant-a'), 32));
    assert.equal(openGcm(key, derived, 'vault:v1:'), 'derived key');
    const underived = await material('tenants', 1);
    assert.throws(() => openGcm(underived, derived, 'vault:v1:'), 'the material itself is not the context\'s key');
  });

  it('hostile input answers 400 in Vault\'s shape', async () => {
    assertVault400(await put('transit/encrypt/batchy', { plaintext: 'bad base64 ☃' }), /illegal base64/);
    assertVault400(await put('transit/encrypt/batchy', { plaintext: 12 }), /base64/);
    assertVault400(await put('transit/encrypt/batchy', {}), /missing plaintext/);
    assertVault400(await put('transit/decrypt/batchy', { ciphertext: 'vault:v1:@@@@' }), /illegal base64/);
    assertVault400(await put('transit/decrypt/batchy', { ciphertext: 'vault:v99:AAAA' }), /too new/);
    assertVault400(await put('transit/encrypt/batchy', { batch_input: Array.from({ length: 5001 }, () => ({})) }), /at most 5000/);
    assertVault400(await put('transit/encrypt/batchy', { batch_input: 'everything' }), /batch input/);
    assertVault400(await put('transit/encrypt/batchy', { batch_input: [] }), /missing batch input/);
    assertVault400(await put('transit/decrypt/batchy', { batch_input: [42] }), /not an object/);
    assertVault400(await put('transit/encrypt/batchy', { plaintext: b64('x'), key_version: 'two' }), /key_version/);
    assertVault400(await put('transit/encrypt/batchy', { plaintext: b64('x'), nonce: b64('123456789012') }), /nonce/);
    assertVault400(await put('transit/keys/bad%20name', {}), /invalid key name/);
    const tooLong = await put(`transit/keys/${'k'.repeat(200)}`, {});
    assertVault400(tooLong, /invalid key name/);
  });

  it('policies: encrypt needs update (create for a new key), decrypt is its own path', async () => {
    await vault.write('sys/policies/acl/enc-only', {
      policy: 'path "transit/encrypt/orders" { capabilities = ["update"] }\npath "transit/encrypt/fresh" { capabilities = ["update"] }',
    });
    const token = (await put('auth/token/create', { policies: ['enc-only'] })).body.auth.client_token as string;
    assert.equal((await put('transit/encrypt/orders', { plaintext: b64('x') }, token)).status, 200);
    const ct = (await put('transit/encrypt/orders', { plaintext: b64('x') }, token)).body.data.ciphertext;
    assert.equal((await put('transit/decrypt/orders', { ciphertext: ct }, token)).status, 403);
    // A missing key would be created: that needs `create`.
    assert.equal((await put('transit/encrypt/fresh', { plaintext: b64('x') }, token)).status, 403);
    assert.equal((await call('GET', 'transit/keys/orders', undefined, token)).status, 403);
    assert.equal((await put('transit/keys/orders/config', { min_decryption_version: 1 }, token)).status, 403);
  });

  it('deletes a key only once deletion is allowed', async () => {
    assert.equal(await status(vault.transitDeleteKey({ name: 'other' })), 400);
    await vault.write('transit/keys/other/config', { deletion_allowed: true });
    await vault.transitDeleteKey({ name: 'other' });
    assert.equal(await status(vault.read('transit/keys/other')), 404);
    assertVault400(await call('DELETE', 'transit/keys/other'), /not found/);
  });

  describe('a database writer', () => {
    const tamper = (q: ReturnType<typeof sql>) => tdb.database.query(q);

    it('rolling min_decryption_version back is refused (403 integrity check failed)', async () => {
      await vault.write('transit/keys/guarded', {});
      const old = (await vault.encryptData({ name: 'guarded', plaintext: b64('old secret') })).data.ciphertext;
      await vault.write('transit/keys/guarded/rotate', {});
      await vault.write('transit/keys/guarded/config', { min_decryption_version: 2 });
      assertVault400(await put('transit/decrypt/guarded', { ciphertext: old }), /too old/);
      await tamper(sql`update vault.transit_keys set min_decryption_version = 1 where name = 'guarded'`);
      const r = await put('transit/decrypt/guarded', { ciphertext: old });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { errors: ['integrity check failed'] });
      // Audited: the refused request's response entry records the 403 and why.
      const [audited] = await tdb.database.query<{ status: number; error: string }>(
        sql`select status, error from vault.audit_log where type = 'response' and path = 'transit/decrypt/guarded' order by seq desc limit 1`,
      );
      assert.equal(audited!.status, 403);
      assert.match(audited!.error, /integrity check failed/);
      assert.equal((await call('GET', 'transit/keys/guarded')).status, 403);
      assert.equal((await call('GET', 'transit/keys?list=true')).status, 403);
      // Putting the value back restores the row's MAC: nothing else was changed.
      await tamper(sql`update vault.transit_keys set min_decryption_version = 2 where name = 'guarded'`);
      assertVault400(await put('transit/decrypt/guarded', { ciphertext: old }), /too old/);
    });

    it('a key from before row MACs is refused until a config write with min_decryption_version adopts it', async () => {
      await vault.write('transit/keys/legacy', {});
      const ct = (await vault.encryptData({ name: 'legacy', plaintext: b64('from before') })).data.ciphertext;
      await vault.write('transit/keys/legacy/config', { deletion_allowed: true });
      // The state an upgraded database holds: no MAC, generation 0 (the writer could do the same).
      await tamper(sql`update vault.transit_keys set mac = null, generation = 0 where name = 'legacy'`);
      assert.equal((await put('transit/decrypt/legacy', { ciphertext: ct })).status, 403);
      assertVault400(await put('transit/keys/legacy/config', { deletion_allowed: false }), /adopt/);
      const adopted = await put('transit/keys/legacy/config', { min_decryption_version: 1 });
      assert.equal(adopted.status, 200);
      // The unsigned deletion flag was not trusted: it is back to the default.
      assert.equal(adopted.body.data.deletion_allowed, false);
      assert.equal(unb64((await vault.decryptData({ name: 'legacy', ciphertext: ct })).data.plaintext), 'from before');
      // A row of a shape that never existed unsigned (a derived key) is not adopted.
      await tamper(sql`update vault.transit_keys set mac = null, generation = 0 where name = 'tenants'`);
      assert.equal((await put('transit/keys/tenants/config', { min_decryption_version: 1 })).status, 403);
    });

    it('swapping key material between keys, allowing deletion, or forging a row is refused', async () => {
      await vault.write('transit/keys/victim', {});
      await vault.write('transit/keys/attacker', {});
      const victimCt = (await vault.encryptData({ name: 'victim', plaintext: b64('victim data') })).data.ciphertext;
      const [saved] = await tdb.database.query<{ versions: string; mac: Buffer }>(sql`select versions::text as versions, mac from vault.transit_keys where name = 'victim'`);
      // The attacker's key material copied into the victim's row (to decrypt with a key they know).
      await tamper(sql`update vault.transit_keys set versions = (select versions from vault.transit_keys where name = 'attacker') where name = 'victim'`);
      assert.equal((await put('transit/decrypt/victim', { ciphertext: victimCt })).status, 403);
      assert.equal((await put('transit/encrypt/victim', { plaintext: b64('x') })).status, 403);
      // The victim's whole row (material and MAC) under the attacker's name: the MAC binds the name.
      await tamper(sql`update vault.transit_keys set versions = ${saved!.versions}::jsonb, mac = ${saved!.mac} where name = 'attacker'`);
      assert.equal((await put('transit/decrypt/attacker', { ciphertext: victimCt })).status, 403);
      await tamper(sql`update vault.transit_keys set versions = ${saved!.versions}::jsonb where name = 'victim'`);
      assert.equal(unb64((await vault.decryptData({ name: 'victim', ciphertext: victimCt })).data.plaintext), 'victim data');
      // deletion_allowed flipped in the database: the delete is refused and the key stays.
      await tamper(sql`update vault.transit_keys set deletion_allowed = true where name = 'victim'`);
      assert.equal((await call('DELETE', 'transit/keys/victim')).status, 403);
      const [still] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.transit_keys where name = 'victim'`);
      assert.equal(still!.n, 1);
      // A row inserted by the writer (a key of its choosing, no valid MAC) is never used.
      await tamper(sql`insert into vault.transit_keys (name, versions, mac) select 'forged', versions, mac from vault.transit_keys where name = 'orders'`);
      assert.equal((await put('transit/encrypt/forged', { plaintext: b64('x') })).status, 403);
      await tamper(sql`update vault.transit_keys set mac = null where name = 'forged'`);
      assert.equal((await call('GET', 'transit/keys/forged')).status, 403);
    });
  });

  it('a sealed unsealer mid-way: 503 in Vault\'s shape, nothing half-done', async () => {
    const before = (await vault.transitReadKey({ name: 'rw' })).data.latest_version as number;
    await vs.restartUnsealer();
    const enc = await put('transit/encrypt/rw', { batch_input: [{ plaintext: b64('a') }, { plaintext: b64('b') }] });
    assert.equal(enc.status, 503);
    assert.ok(Array.isArray(enc.body.errors) && enc.body.errors.length > 0);
    assert.equal((await put('transit/keys/rw/rotate', {})).status, 503);
    await vault.unseal({ key: unsealKey });
    assert.equal((await vault.transitReadKey({ name: 'rw' })).data.latest_version, before);
    assert.equal((await put('transit/encrypt/rw', { plaintext: b64('again') })).status, 200);
  });
});
