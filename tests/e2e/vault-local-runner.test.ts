// The vault as `npm start` runs it, on real PostgreSQL: the local runner gives vault-api the
// unsealer's own loopback port (as the Service's DNS name reaches the pods in a cluster), not a
// path through the ingress; a VAULT_UNSEALER_URL that is set is kept; a client through the
// ingress inits, unseals, writes and reads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import nodeVault from 'node-vault';
import { startStack, type RunningStack } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import apiDecl from '#functions/vault/api/function';
import unsealerDecl from '#functions/vault/unsealer/function';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';

describe('vault on the local runner', () => {
  let tdb: TestDatabase;
  const stacks: RunningStack[] = [];
  const start = async (env: Record<string, string | undefined>) => {
    const platform = { config: loadConfig({ PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error' }), log: silentLogger, metrics: createMetrics({ defaults: false }), database: tdb.database };
    const stack = await startStack({ platform, declarations: [apiDecl, unsealerDecl], relays: false, env });
    stacks.push(stack);
    return stack;
  };
  const envOf = (stack: RunningStack, name: string) => stack.hosted.find((h) => h.declaration.name === name)!.context.env;

  before(async () => {
    tdb = await createTestDatabase();
  });
  after(async () => {
    for (const s of stacks) await s.stop();
    await tdb?.drop();
  });

  it("gives vault-api the unsealer's own port, and serves a client through the ingress", async () => {
    const stack = await start({});
    const url = envOf(stack, 'vault-api').VAULT_UNSEALER_URL!;
    const direct = new URL(url);
    assert.equal(direct.hostname, '127.0.0.1');
    assert.notEqual(Number(direct.port), stack.port, 'not the ingress');
    assert.equal(direct.pathname, '/');
    // It is the unsealer itself: its sys/ routes answer there, without the ingress.
    const status = await fetch(`${url}/vault/v1/sys/seal-status`);
    assert.equal(status.status, 200);
    assert.equal(((await status.json()) as { initialized: boolean }).initialized, false);

    const vault = nodeVault({ apiVersion: 'v1', endpoint: `${stack.localUrl}/vault`, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    await vault.unseal({ key: init.keys[0] });
    vault.token = init.root_token;
    await vault.write('secret/data/runner', { data: { k: 'v' } });
    assert.equal((await vault.read('secret/data/runner')).data.data.k, 'v');
  });

  it('keeps a VAULT_UNSEALER_URL that is set', async () => {
    const stack = await start({ VAULT_UNSEALER_URL: 'http://127.0.0.1:1/elsewhere' });
    assert.equal(envOf(stack, 'vault-api').VAULT_UNSEALER_URL, 'http://127.0.0.1:1/elsewhere');
  });
});
