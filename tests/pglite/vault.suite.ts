// The vault on PGlite: one connection, so no database transaction may wait on a call to the
// unsealer that itself needs the database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodeVault from 'node-vault';
import type { Database } from '#shared/db/index';
import { startVaultServer, type VaultServer } from '#tests/e2e/vault-server';

export function vaultSuite(db: () => Database): void {
  describe('vault on PGlite', () => {
    let vs: VaultServer;
    let vault: ReturnType<typeof nodeVault>;

    before(async () => {
      vs = await startVaultServer(db());
      vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
      const init = await vault.init({ secret_shares: 3, secret_threshold: 2 });
      vault.token = init.root_token;
      for (const k of init.keys.slice(1)) await vault.unseal({ key: k });
    });
    after(async () => {
      await vs?.close();
    });

    it('writes the first version right after unseal (KEK not cached yet) and reads it back', async () => {
      await vault.write('secret/data/p', { data: { a: 'b' } });
      assert.deepEqual((await vault.read('secret/data/p')).data.data, { a: 'b' });
    });

    it('serves concurrent writers and a transit rotation without deadlock', async () => {
      const writes = await Promise.all(Array.from({ length: 6 }, (_, i) => vault.write('secret/data/q', { data: { i } })));
      assert.deepEqual(writes.map((w) => w.data.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
      await vault.write('transit/keys/k', {});
      assert.equal((await vault.write('transit/keys/k/rotate', {})).data.latest_version, 2);
    });
  });
}
