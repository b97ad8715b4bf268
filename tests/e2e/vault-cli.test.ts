// `zenokube vault init|unseal|seal|status` against a running vault.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runVaultCli, type CliIo } from '#cli/vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

describe('zenokube vault', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  const run = async (args: string[], env: Record<string, string> = {}, stdin = '') => {
    let out = '';
    let err = '';
    const io: CliIo = { env: { VAULT_ADDR: vs.endpoint, ...env }, out: (t) => (out += t), err: (t) => (err += t), readStdin: async () => stdin, fetch };
    const code = await runVaultCli(args, io);
    return { code, out, err };
  };
  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    vs = await startVaultServer(tdb.database);
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('initialises, reports sealed, unseals from arguments and stdin, and seals with a token', async () => {
    const init = await run(['init', '--shares', '3', '--threshold', '2']);
    assert.equal(init.code, 0, init.err);
    const keys = [...init.out.matchAll(/Unseal Key \d: ([0-9a-f]+)/g)].map((m) => m[1]!);
    const token = /Initial Root Token: (\S+)/.exec(init.out)![1]!;
    assert.equal(keys.length, 3);
    const sealed = await run(['status']);
    assert.equal(sealed.code, 2);
    assert.match(sealed.out, /Sealed\s+true/);
    assert.match((await run(['unseal', keys[2]!])).out, /Unseal Progress\s+1\/2/);
    assert.match((await run(['unseal'], {}, `${keys[0]}\n`)).out, /Sealed\s+false/);
    assert.equal((await run(['status'])).code, 0);
    assert.equal((await run(['seal'])).code, 2, 'sealing needs VAULT_TOKEN');
    assert.equal((await run(['seal'], { VAULT_TOKEN: 'hvs.wrong' })).code, 1);
    assert.equal((await run(['seal'], { VAULT_TOKEN: token })).code, 0);
    assert.equal((await run(['status', '--json'])).code, 2);
  });

  it('reports errors and usage with non-zero exit codes', async () => {
    const again = await run(['init']);
    assert.equal(again.code, 1);
    assert.match(again.err, /already initialized/);
    assert.equal((await run(['frobnicate'])).code, 2);
    assert.equal((await run(['unseal'], {}, '')).code, 2);
  });
});
