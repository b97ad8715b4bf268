import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq, sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { VaultError } from '#functions/vault/core/errors';
import { sealConfig } from '#functions/vault/core/schema';
import { combine, split } from '#functions/vault/core/shamir';
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

  it('keeps the row-MAC key across a rekey, and a replica with the old root key seals itself', async () => {
    const tdb2 = await createTestDatabase({ max: 2 });
    try {
      const init = await initialize(tdb2.database, createKeyring(tdb2.database), 1, 1);
      const one = createKeyring(tdb2.database, { checkMs: 0 });
      const two = createKeyring(tdb2.database, { checkMs: 0 });
      await one.submitShare(decodeShare(init.keys[0]!));
      await two.submitShare(decodeShare(init.keys[0]!));
      const macBefore = await one.rowMacKey();
      const dek = await two.newDek('secret/', 'ctx');
      const newRoot = randomBytes(32);
      await tdb2.database.transaction(async (tx) => {
        const { canary, wrappedKeyringKey } = await one.rewrapUnder(tx, newRoot);
        await tx.update(sealConfig).set({ canary, wrappedKeyringKey }).where(eq(sealConfig.id, 1));
      });
      one.rekeyed();
      // A mount added by the replica still holding the old root key is not written.
      await assert.rejects(two.addMount(tdb2.database.db, 'stale/', 'kv', ''), (e: VaultError) => e.status === 503);
      const stale = await tdb2.database.query<{ n: number }>(sql`select count(*)::int as n from vault.mounts where path = 'stale/'`);
      assert.equal(stale[0]!.n, 0);
      assert.equal(await one.addMount(tdb2.database.db, 'fresh/', 'kv', ''), true);
      assert.equal(await one.addMount(tdb2.database.db, 'fresh/', 'kv', ''), false);
      const fresh = await one.newDek('fresh/', 'ctx');
      assert.ok((await one.unwrapDek('fresh/', 'ctx', fresh.wrapped)).equals(fresh.dek));
      assert.ok((await one.rowMacKey()).equals(macBefore), 'the row-MAC key survives the rekey');
      assert.ok((await one.unwrapDek('secret/', 'ctx', dek.wrapped)).equals(dek.dek), 'KEKs are the same keys, rewrapped');
      // The other replica sealed itself when it found the canary changed; any use now is 503.
      await assert.rejects(two.unwrapDek('secret/', 'ctx', dek.wrapped), (e: VaultError) => e.status === 503);
      assert.equal(two.isSealed(), true);
      // The old share opens nothing now; a share of the new root key does.
      await assert.rejects(two.submitShare(decodeShare(init.keys[0]!)), (e: VaultError) => e.status === 400);
      const [share] = split(newRoot, 1, 1);
      await two.submitShare(share!);
      assert.ok((await two.rowMacKey()).equals(macBefore));
    } finally {
      await tdb2.drop();
    }
  });

  it('never writes a mount under a root key a concurrent rekey is replacing', async () => {
    const tdb3 = await createTestDatabase({ max: 4 });
    try {
      const init = await initialize(tdb3.database, createKeyring(tdb3.database), 1, 1);
      const rekeying = createKeyring(tdb3.database, { checkMs: 0 });
      const other = createKeyring(tdb3.database, { checkMs: 0 });
      await rekeying.submitShare(decodeShare(init.keys[0]!));
      await other.submitShare(decodeShare(init.keys[0]!));
      const newRoot = randomBytes(32);
      let adding: Promise<boolean> | undefined;
      await tdb3.database.transaction(async (tx) => {
        const { canary, wrappedKeyringKey } = await rekeying.rewrapUnder(tx, newRoot);
        await tx.update(sealConfig).set({ canary, wrappedKeyringKey }).where(eq(sealConfig.id, 1));
        // The other replica still sees the old canary (uncommitted rekey) and starts its insert,
        // which waits on the rekey's lock of the seal configuration.
        adding = other.addMount(tdb3.database.db, 'race/', 'kv', '');
        adding.catch(() => undefined);
        for (;;) {
          const [w] = await tdb3.database.query<{ n: number }>(
            sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          );
          if (w!.n > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
      });
      rekeying.rekeyed();
      await assert.rejects(adding!, (e: VaultError) => e.status === 503);
      const rows = await tdb3.database.query<{ n: number }>(sql`select count(*)::int as n from vault.mounts where path = 'race/'`);
      assert.equal(rows[0]!.n, 0, 'no KEK under the old root key was written');
      assert.equal(other.isSealed(), true);
    } finally {
      await tdb3.drop();
    }
  });
});
