// sys/seal bites before it returns, on real PostgreSQL: the api keeps DEKs, its audit line key and
// token lookups between requests, yet the very next request of every kind after sys/seal
// returns answers 503 (the seal epoch moves before the unsealer answers, and every audit write
// checks it). Unsealed again, the first request is served. A seal that storage cannot record
// leaves the vault unsealed and says so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

describe('vault seal takes effect before sys/seal returns', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let app: string;
  let unsealKey: string;

  const send = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'x-vault-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.text()) || '{}' };
  };

  /** One request of every kind a client makes, each to be answered from the api's caches. */
  const kinds: [string, () => ReturnType<typeof send>][] = [
    ['kv data read', () => send('GET', 'secret/data/app/db', app)],
    ['kv older version read', () => send('GET', 'secret/data/app/db?version=1', app)],
    ['kv metadata read', () => send('GET', 'secret/metadata/app/db', app)],
    ['kv list', () => send('GET', 'secret/metadata/app?list=true', app)],
    ['token lookup-self', () => send('GET', 'auth/token/lookup-self', app)],
    ['policy read', () => send('GET', 'sys/policies/acl/app', root)],
    ['kv write', () => send('PUT', 'secret/data/app/other', app, { data: { v: 1 } })],
    ['token create', () => send('POST', 'auth/token/create', root, { policies: ['app'] })],
  ];

  const seal = async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/sys/seal`, { method: 'PUT', headers: { 'x-vault-token': root } });
    assert.equal(res.status, 204);
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    root = init.root_token;
    unsealKey = init.keys[0];
    await vault.unseal({ key: unsealKey });
    vault.token = root;
    await vault.write('sys/policies/acl/app', { policy: 'path "secret/*" { capabilities = ["create", "read", "update", "list"] }' });
    app = (await vault.tokenCreate({ policies: ['app'] })).auth.client_token;
    await send('PUT', 'secret/data/app/db', app, { data: { password: 'v1' } });
    await send('PUT', 'secret/data/app/db', app, { data: { password: 'v2' } });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('answers 503 to the very next request of each kind after sys/seal returns, then serves the first one after unseal', async () => {
    for (let round = 0; round < 2; round++) {
      // Warm every cache: the same requests twice each.
      for (const [name, req] of kinds) {
        for (let i = 0; i < 2; i++) assert.equal((await req()).status, 200, `${name} before the seal`);
      }
      await seal();
      for (const [name, req] of kinds) {
        const r = await req();
        assert.deepEqual([r.status, JSON.parse(r.body)], [503, { errors: ['Vault is sealed'] }], `${name} right after sys/seal`);
      }
      const unseal = await fetch(`${vs.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: unsealKey }) });
      assert.equal(((await unseal.json()) as { sealed: boolean }).sealed, false);
      const first = await kinds[0]![1]();
      assert.equal(first.status, 200, 'the first read after unseal is served');
      assert.equal(JSON.parse(first.body).data.data.password, 'v2');
    }
  });

  it('answers 503 to every read sent after sys/seal returned, with reads running throughout', async () => {
    let sealedAt = Infinity;
    const answers: { status: number; at: number }[] = [];
    const readers = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 30; i++) {
        const sent = performance.now();
        const r = await send('GET', 'secret/data/app/db', app);
        answers.push({ status: r.status, at: sent });
      }
    });
    const sealer = (async () => {
      await new Promise((r) => setTimeout(r, 50));
      await seal();
      sealedAt = performance.now();
    })();
    await Promise.all([...readers, sealer]);
    assert.ok(answers.some((a) => a.status === 503), 'reads after the seal are refused');
    const late = answers.filter((a) => a.status === 200 && a.at > sealedAt);
    assert.deepEqual(late, [], 'no read sent after sys/seal returned was served');
    await fetch(`${vs.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: unsealKey }) });
  });

  it('a seal that storage cannot record fails with 503 and leaves the vault unsealed and serving', async () => {
    await tdb.database.query(sql`create function vault.no_epoch() returns trigger language plpgsql as $$ begin raise exception 'storage refuses'; end $$`);
    await tdb.database.query(sql`create trigger no_epoch before update on vault.seal_config for each row execute function vault.no_epoch()`);
    try {
      const res = await fetch(`${vs.baseUrl}/vault/v1/sys/seal`, { method: 'PUT', headers: { 'x-vault-token': root } });
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { errors: string[] }).errors[0]!, /still unsealed/);
      const status = (await (await fetch(`${vs.baseUrl}/vault/v1/sys/seal-status`)).json()) as { sealed: boolean };
      assert.equal(status.sealed, false);
      assert.equal((await send('GET', 'secret/data/app/db', app)).status, 200);
    } finally {
      await tdb.database.query(sql`drop trigger no_epoch on vault.seal_config`);
    }
  });
});
