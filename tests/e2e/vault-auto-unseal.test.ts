// Auto-unseal through a second ZenoVault's transit key: init returns recovery shares, a restarted
// unsealer unseals itself, and with the remote key unreachable the recovery shares still unseal.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('auto-unseal through another vault (transit seal)', () => {
  let dbA: TestDatabase;
  let dbB: TestDatabase;
  let a: VaultServer;
  let b: VaultServer;
  let vaultA: ReturnType<typeof nodeVault>;
  let vaultB: ReturnType<typeof nodeVault>;
  let aKey: string;
  let recovery: string[];

  before(async () => {
    dbA = await createTestDatabase({ max: 4 });
    dbB = await createTestDatabase({ max: 4 });
    a = await startVaultServer(dbA.database);
    vaultA = nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, noCustomHTTPVerbs: true });
    const init = await vaultA.init({ secret_shares: 1, secret_threshold: 1 });
    aKey = init.keys[0];
    vaultA.token = init.root_token;
    await vaultA.unseal({ key: aKey });
    await vaultA.write('transit/keys/autounseal', {});
    await vaultA.write('sys/policies/acl/autounseal', {
      policy: 'path "transit/encrypt/autounseal" { capabilities = ["update"] }\npath "transit/decrypt/autounseal" { capabilities = ["update"] }',
    });
    const sealToken = (await nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, token: init.root_token }).tokenCreate({ policies: ['autounseal'], no_parent: true })).auth.client_token;
    b = await startVaultServer(dbB.database, {
      VAULT_SEAL_TYPE: 'transit',
      VAULT_SEAL_TRANSIT_ADDRESS: a.endpoint,
      VAULT_SEAL_TRANSIT_TOKEN: sealToken,
      VAULT_SEAL_TRANSIT_KEY: 'autounseal',
      VAULT_SEAL_RETRY_MS: '100',
    });
    vaultB = nodeVault({ apiVersion: 'v1', endpoint: b.endpoint, noCustomHTTPVerbs: true });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await dbB?.drop();
    await dbA?.drop();
  });

  it('initialises with recovery shares only and is unsealed at once', async () => {
    // node-vault's schema insists on secret_shares; with a seal stanza they are ignored, as in Vault.
    const init = await vaultB.init({ secret_shares: 1, secret_threshold: 1, recovery_shares: 5, recovery_threshold: 3 });
    assert.deepEqual(init.keys, []);
    assert.equal(init.recovery_keys.length, 5);
    recovery = init.recovery_keys;
    vaultB.token = init.root_token;
    const status = await vaultB.status();
    assert.equal(status.sealed, false);
    assert.equal(status.type, 'transit');
    assert.equal(status.recovery_seal, true);
    await vaultB.write('secret/data/app', { data: { password: 'behind-two-vaults' } });
    const row = await dbB.database.query<{ seal_wrapped_root_key: string }>(
      (await import('drizzle-orm')).sql`select seal_wrapped_root_key from vault.seal_config`,
    );
    assert.match(row[0]!.seal_wrapped_root_key, /^vault:v1:/, 'the root key is stored only wrapped by the remote transit key');
  });

  it('unseals itself after an unsealer restart, with no human', async () => {
    await b.restartUnsealer();
    await eventually('auto-unseal', async () => ((await vaultB.status()).sealed ? undefined : true));
    assert.equal((await vaultB.read('secret/data/app')).data.data.password, 'behind-two-vaults');
  });

  it('stays sealed while the remote key is unavailable, and unseals with 3 of 5 recovery shares', async () => {
    await vaultA.seal();
    await b.restartUnsealer();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await vaultB.status()).sealed, true);
    for (const k of [recovery[4], recovery[1], recovery[2]]) await vaultB.unseal({ key: k });
    assert.equal((await vaultB.status()).sealed, false);
    assert.equal((await vaultB.read('secret/data/app')).data.data.password, 'behind-two-vaults');
  });

  it('picks the remote seal up again once the remote vault is back', async () => {
    await vaultA.unseal({ key: aKey });
    await b.restartUnsealer();
    await eventually('auto-unseal after the remote vault returns', async () => ((await vaultB.status()).sealed ? undefined : true));
  });
});
