import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { VaultError } from '#functions/vault/core/errors';
import { combine } from '#functions/vault/core/shamir';
import { initialize } from './init.js';
import { createKeyring, decodeShare } from './keyring.js';

describe('unsealer keyring', () => {
  let tdb: TestDatabase;
  let keys: string[];
  let keysB64: string[];
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    const result = await initialize(tdb.database, createKeyring(tdb.database), 5, 3);
    keys = result.keys;
    keysB64 = result.keys_base64;
  });
  after(async () => tdb?.drop());

  it('refuses a second init', async () => {
    await assert.rejects(initialize(tdb.database, createKeyring(tdb.database), 1, 1), (e: VaultError) => e.messages[0] === 'Vault is already initialized');
  });

  it('unseals with any three of five shares, hex or base64, and seals again on wipe', async () => {
    for (const combo of [[0, 1, 2], [4, 2, 0], [1, 3, 4]]) {
      const k = createKeyring(tdb.database);
      for (const [i, idx] of combo.entries()) {
        const s = await k.submitShare(decodeShare(i % 2 ? keysB64[idx!]! : keys[idx!]!));
        assert.equal(s.sealed, i < 2);
        assert.equal(s.progress, i < 2 ? i + 1 : 0);
      }
      assert.ok(!k.isSealed());
      k.wipe();
      assert.ok(k.isSealed());
      assert.equal((await k.state()).sealed, true);
    }
  });

  it('ignores a share it already holds', async () => {
    const k = createKeyring(tdb.database);
    await k.submitShare(decodeShare(keys[0]!));
    const s = await k.submitShare(decodeShare(keys[0]!));
    assert.equal(s.progress, 1);
  });

  it('detects a corrupted share with the canary, says so, and resets progress', async () => {
    const k = createKeyring(tdb.database);
    const bad = decodeShare(keys[1]!);
    bad[5]! ^= 0x40;
    await k.submitShare(decodeShare(keys[0]!));
    await k.submitShare(bad);
    await assert.rejects(k.submitShare(decodeShare(keys[2]!)), (e: VaultError) => {
      assert.equal(e.status, 400);
      assert.match(e.messages[0]!, /canary.*progress was reset/);
      return true;
    });
    const s = await k.state();
    assert.equal(s.progress, 0);
    assert.equal(s.sealed, true);
    // Good shares still work afterwards.
    for (const i of [0, 1, 2]) await k.submitShare(decodeShare(keys[i]!));
    assert.ok(!k.isSealed());
    k.wipe();
  });

  it('refuses shares of a different vault', async () => {
    const k = createKeyring(tdb.database);
    const first = decodeShare(keys[0]!);
    const second = decodeShare(keys[1]!);
    // x-coordinates are random: the foreign share takes one neither real share has.
    const foreign = Buffer.alloc(33, 7);
    foreign[32] = [1, 2, 3].find((x) => x !== first[32] && x !== second[32])!;
    await k.submitShare(first);
    await k.submitShare(second);
    await assert.rejects(k.submitShare(foreign), /canary/);
  });

  it('rejects shares of the wrong length and keys that are neither hex nor base64', async () => {
    const k = createKeyring(tdb.database);
    await assert.rejects(k.submitShare(Buffer.alloc(10)), /33 bytes/);
    assert.throws(() => decodeShare('not a key!'), /hex or base64/);
  });

  it('zeroes the root key buffer itself on wipe, not just the reference', async () => {
    const k = createKeyring(tdb.database);
    const root = combine([0, 1, 2].map((i) => decodeShare(keys[i]!)));
    const config = (await k.loadConfig())!;
    assert.ok(k.adopt(root, config), 'the rebuilt key opens the canary');
    const { wrapped } = await k.newDek('secret/', 'probe');
    assert.equal((await k.unwrapDek('secret/', 'probe', wrapped)).length, 32);
    k.wipe();
    assert.ok(root.every((b) => b === 0), 'the very buffer that held the root key is zeroed');
    await assert.rejects(k.unwrapDek('secret/', 'probe', wrapped), (e: VaultError) => e.status === 503);
  });

  it('fails a DEK unwrap under another context (a wrapped key moved to another row)', async () => {
    const k = createKeyring(tdb.database);
    for (const i of [0, 1, 2]) await k.submitShare(decodeShare(keys[i]!));
    const { wrapped } = await k.newDek('secret/', 'kv/1:a/v1');
    await assert.rejects(k.unwrapDek('secret/', 'kv/1:b/v1', wrapped), /does not authenticate/);
    await assert.rejects(k.unwrapDek('transit/', 'kv/1:a/v1', wrapped), /does not authenticate/);
    k.wipe();
  });
});
