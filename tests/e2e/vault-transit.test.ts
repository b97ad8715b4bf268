// Transit end to end with node-vault: keys, encrypt/decrypt, versions and rotation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, statusOf as status, type VaultServer } from './vault-server.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('transit engine', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let vault: ReturnType<typeof nodeVault>;

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    vault.token = init.root_token;
    await vault.unseal({ key: init.keys[0] });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('encrypts and decrypts with the vault:v1: format, with fresh nonces', async () => {
    await vault.write('transit/keys/orders', {});
    const a = await vault.encryptData({ name: 'orders', plaintext: b64('card 4111') });
    const b = await vault.encryptData({ name: 'orders', plaintext: b64('card 4111') });
    assert.match(a.data.ciphertext, /^vault:v1:[A-Za-z0-9+/]+=*$/);
    assert.notEqual(a.data.ciphertext, b.data.ciphertext);
    const d = await vault.decryptData({ name: 'orders', ciphertext: a.data.ciphertext });
    assert.equal(Buffer.from(d.data.plaintext, 'base64').toString(), 'card 4111');
  });

  it('rotates: new ciphertexts use the latest version, old ones still decrypt until min_decryption_version', async () => {
    const old = (await vault.encryptData({ name: 'orders', plaintext: b64('v1 data') })).data.ciphertext;
    const rotated = await vault.write('transit/keys/orders/rotate', {});
    assert.equal(rotated.data.latest_version, 2);
    const fresh = (await vault.encryptData({ name: 'orders', plaintext: b64('v2 data') })).data.ciphertext;
    assert.match(fresh, /^vault:v2:/);
    assert.equal(Buffer.from((await vault.decryptData({ name: 'orders', ciphertext: old })).data.plaintext, 'base64').toString(), 'v1 data');
    await vault.write('transit/keys/orders/config', { min_decryption_version: 2 });
    assert.equal(await status(vault.decryptData({ name: 'orders', ciphertext: old })), 400);
    const info = await vault.read('transit/keys/orders');
    assert.deepEqual(Object.keys(info.data.keys), ['1', '2']);
    assert.equal(info.data.min_decryption_version, 2);
  });

  it('refuses tampered ciphertext, another key, and malformed input with 400', async () => {
    const ct = (await vault.encryptData({ name: 'orders', plaintext: b64('x') })).data.ciphertext as string;
    const raw = Buffer.from(ct.slice('vault:v2:'.length), 'base64');
    raw[14]! ^= 1;
    assert.equal(await status(vault.decryptData({ name: 'orders', ciphertext: `vault:v2:${raw.toString('base64')}` })), 400);
    await vault.write('transit/keys/other', {});
    assert.equal(await status(vault.decryptData({ name: 'other', ciphertext: ct.replace('vault:v2:', 'vault:v1:') })), 400);
    assert.equal(await status(vault.decryptData({ name: 'orders', ciphertext: 'garbage' })), 400);
    assert.equal(await status(vault.encryptData({ name: 'orders', plaintext: 'not base64!' })), 400);
    assert.equal(await status(vault.decryptData({ name: 'missing-key', ciphertext: ct })), 400);
  });

  it('handles batches and creates a missing key on encrypt', async () => {
    const res = await vault.write('transit/encrypt/batchy', { batch_input: [{ plaintext: b64('a') }, { plaintext: b64('b') }] });
    assert.equal(res.data.batch_results.length, 2);
    const dec = await vault.write('transit/decrypt/batchy', { batch_input: res.data.batch_results.map((r: { ciphertext: string }) => ({ ciphertext: r.ciphertext })) });
    assert.deepEqual(dec.data.batch_results.map((r: { plaintext: string }) => Buffer.from(r.plaintext, 'base64').toString()), ['a', 'b']);
    const list = await vault.list('transit/keys');
    assert.deepEqual(list.data.keys, ['batchy', 'orders', 'other']);
  });

  it('deletes a key only once deletion is allowed', async () => {
    assert.equal(await status(vault.delete('transit/keys/other')), 400);
    await vault.write('transit/keys/other/config', { deletion_allowed: true });
    await vault.delete('transit/keys/other');
    assert.equal(await status(vault.read('transit/keys/other')), 404);
  });
});
