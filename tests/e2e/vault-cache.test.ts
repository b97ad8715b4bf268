// What vault-api keeps between requests, on real PostgreSQL against a real unsealer:
// - the DEK cache: one unwrap per (mount, context, wrapped key), bounded in count and bytes,
//   emptied when the unsealer answers sealed, never handing out its own buffer;
// - the token cache: a token revoked through this api fails at once, through another api
//   replica within VAULT_TOKEN_CACHE_MS; a use-limited token spends a use on every request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { Pool, type Dispatcher } from 'undici';
import { createUnsealerClient, type UnsealerClient } from '#functions/vault/api/unsealer-client';
import apiDecl from '#functions/vault/api/function';
import { readSealEpoch } from '#functions/vault/core/audit';
import { loadConfig } from '#shared/config/index';
import { createEventPublisher } from '#shared/events/outbox';
import { hostFunction } from '#shared/function/host';
import { listen, type RunningServer } from '#shared/http/serve';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

/** A connection pool to the unsealer that counts the calls made through it, by path. */
class CountingPool extends Pool {
  readonly calls: string[] = [];
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.calls.push(String(opts.path).replace(/^.*\/internal\/v1/, ''));
    return super.dispatch(opts, handler);
  }
}

describe('vault-api caches', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let unsealKey: string;
  const internalKey = randomBytes(32);
  const clients: UnsealerClient[] = [];
  const pools: CountingPool[] = [];

  const unsealerClient = (opts: { dekCacheEntries?: number; dekCacheBytes?: number } = {}) => {
    const pool = new CountingPool(vs.baseUrl);
    pools.push(pool);
    const c = createUnsealerClient({ url: `${vs.baseUrl}/_fn/vault-unsealer`, key: internalKey, sealEpoch: () => readSealEpoch(tdb.database.db), dispatcher: pool, ...opts });
    clients.push(c);
    return { client: c, pool };
  };

  /** The wrapped DEK and context of a stored version. */
  const stored = async (path: string, version: number) => {
    const [r] = await tdb.database.query<{ wrapped_dek: Buffer }>(sql`select wrapped_dek from vault.kv_versions where mount = 'secret/' and path = ${path} and version = ${version}`);
    return { context: `kv/${path.length}:${path}/v${version}`, wrapped: Buffer.from(r!.wrapped_dek) };
  };

  const send = async (base: string, method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}/vault/v1/${path}`, {
      method,
      headers: { 'x-vault-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res.status;
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database, { VAULT_INTERNAL_KEY: internalKey.toString('base64'), VAULT_TOKEN_CACHE_MS: '60000' });
    const vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    root = init.root_token;
    unsealKey = init.keys[0];
    await vault.unseal({ key: unsealKey });
    for (let i = 0; i < 4; i++) await send(vs.baseUrl, 'PUT', `secret/data/c${i}`, root, { data: { i } });
  });
  after(async () => {
    for (const c of clients) await c.close();
    for (const p of pools) await p.close();
    await vs?.close();
    await tdb?.drop();
  });

  describe('DEK cache', () => {
    it('unwraps a DEK once and serves copies afterwards', async () => {
      const { client, pool } = unsealerClient();
      const { context, wrapped } = await stored('c0', 1);
      const first = await client.unwrapDek('secret/', context, wrapped);
      const kept = Buffer.from(first);
      first.fill(0); // as kv.ts does after use: the cache's own copy must survive it
      const second = await client.unwrapDek('secret/', context, wrapped);
      assert.deepEqual(second, kept);
      assert.equal(pool.calls.filter((p) => p === '/dek/unwrap').length, 1);
      assert.deepEqual({ ...client.dekCacheStats(), bytes: 0 }, { hits: 1, misses: 1, entries: 1, bytes: 0, evictions: 0 });
    });

    it('keys by the wrapped bytes too: a tampered wrapped key is unwrapped (and refused) by the unsealer, never served from the cache', async () => {
      const { client, pool } = unsealerClient();
      const { context, wrapped } = await stored('c1', 1);
      await client.unwrapDek('secret/', context, wrapped);
      const tampered = Buffer.from(wrapped);
      tampered[tampered.length - 1]! ^= 1;
      await assert.rejects(client.unwrapDek('secret/', context, tampered));
      await assert.rejects(client.unwrapDek('secret/', 'kv/2:c2/v1', wrapped), 'the same wrapped key under another context');
      assert.equal(pool.calls.filter((p) => p === '/dek/unwrap').length, 3);
      assert.equal(client.dekCacheStats().entries, 1);
    });

    it('keeps at most dekCacheEntries DEKs, the least recently used leaving first', async () => {
      const { client, pool } = unsealerClient({ dekCacheEntries: 2 });
      const v = await Promise.all([0, 1, 2].map((i) => stored(`c${i}`, 1)));
      await client.unwrapDek('secret/', v[0]!.context, v[0]!.wrapped);
      await client.unwrapDek('secret/', v[1]!.context, v[1]!.wrapped);
      await client.unwrapDek('secret/', v[0]!.context, v[0]!.wrapped); // c0 now most recent
      await client.unwrapDek('secret/', v[2]!.context, v[2]!.wrapped); // evicts c1
      const unwraps = () => pool.calls.filter((p) => p === '/dek/unwrap').length;
      assert.equal(unwraps(), 3);
      await client.unwrapDek('secret/', v[0]!.context, v[0]!.wrapped);
      assert.equal(unwraps(), 3, 'c0 stayed');
      await client.unwrapDek('secret/', v[1]!.context, v[1]!.wrapped);
      assert.equal(unwraps(), 4, 'c1 had left');
      const stats = client.dekCacheStats();
      assert.equal(stats.entries, 2);
      assert.equal(stats.evictions, 2);
    });

    it('keeps no more bytes than dekCacheBytes', async () => {
      const { client } = unsealerClient({ dekCacheBytes: 400 });
      for (let i = 0; i < 4; i++) {
        const { context, wrapped } = await stored(`c${i}`, 1);
        await client.unwrapDek('secret/', context, wrapped);
      }
      const stats = client.dekCacheStats();
      assert.ok(stats.bytes <= 400, `${stats.bytes} bytes kept`);
      assert.ok(stats.entries >= 1 && stats.entries < 4);
    });

    it('counts the api\'s own cache in zeno_vault_dek_cache', async () => {
      for (let i = 0; i < 3; i++) assert.equal(await send(vs.baseUrl, 'GET', 'secret/data/c0', root), 200);
      const text = await (await fetch(`${vs.baseUrl}/_fn/vault-api/metrics`)).text();
      const stat = (name: string) => Number(new RegExp(`zeno_vault_dek_cache\\{stat="${name}"\\} (\\d+)`).exec(text)?.[1]);
      assert.ok(stat('hits') >= 2, text.slice(0, 2000));
      assert.ok(stat('entries') >= 1);
      assert.ok(stat('bytes') > 0);
    });

    it('keeps the DEK it mints for a write', async () => {
      const { client, pool } = unsealerClient();
      const { dek, wrapped } = await client.newDek('secret/', 'kv/5:fresh/v1');
      assert.deepEqual(await client.unwrapDek('secret/', 'kv/5:fresh/v1', wrapped), dek);
      assert.deepEqual(pool.calls.filter((p) => p.startsWith('/dek/')), ['/dek/new']);
    });

    it('empties itself when the vault seals, and answers 503 until unsealed', async () => {
      const { client } = unsealerClient();
      const { context, wrapped } = await stored('c3', 1);
      await client.unwrapDek('secret/', context, wrapped);
      assert.equal(client.dekCacheStats().entries, 1);
      assert.equal((await fetch(`${vs.baseUrl}/vault/v1/sys/seal`, { method: 'PUT', headers: { 'x-vault-token': root } })).status, 204);
      // The next audit write of a request would see the epoch move (vault-seal.test.ts); here the
      // pipeline's reaction is made by hand: the generation ends, and the unsealer says sealed.
      client.flush();
      assert.equal(client.dekCacheStats().entries, 0);
      await assert.rejects(client.unwrapDek('secret/', context, wrapped), (err: Error & { status?: number }) => err.status === 503);
      await fetch(`${vs.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: unsealKey }) });
      assert.ok((await client.unwrapDek('secret/', context, wrapped)).length === 32);
    });

    it('ends its generation when the status check finds the unsealer sealed (a restarted replica)', async () => {
      const { client } = unsealerClient();
      const { context, wrapped } = await stored('c2', 1);
      await client.unwrapDek('secret/', context, wrapped);
      await vs.restartUnsealer();
      // The restarted replica moved the epoch and is sealed: a request's audit state says so.
      await assert.rejects(client.auditState(), (err: Error & { status?: number }) => err.status === 503);
      assert.equal(client.dekCacheStats().entries, 0);
      await fetch(`${vs.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: unsealKey }) });
    });
  });

  describe('token cache', () => {
    let second: RunningServer;
    let secondUrl: string;

    before(async () => {
      // Another api replica on the same database and unsealer, with a short cache.
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error' });
      const api = await hostFunction(apiDecl, {
        config,
        database: tdb.database,
        log: silentLogger,
        metrics: createMetrics({ defaults: false }),
        events: createEventPublisher({ product: 'vault', source: '/vault/api' }),
        env: { VAULT_UNSEALER_URL: `${vs.baseUrl}/_fn/vault-unsealer`, VAULT_INTERNAL_KEY: internalKey.toString('base64'), VAULT_TOKEN_CACHE_MS: '300' },
        catalog: () => import('#eventing/catalog').then((m) => m.catalog),
      });
      second = await listen(api.app.fetch, { port: 0, host: '127.0.0.1' });
      secondUrl = `http://127.0.0.1:${second.port}`;
    });
    after(async () => {
      await second?.close(500);
    });

    const mint = async (body: Record<string, unknown>) => {
      const res = await fetch(`${vs.baseUrl}/vault/v1/auth/token/create`, { method: 'POST', headers: { 'x-vault-token': root, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return ((await res.json()) as { auth: { client_token: string } }).auth.client_token;
    };

    it('refuses a token revoked through the same api at once, though its lookup was cached for a minute', async () => {
      const t = await mint({ policies: ['default'] });
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', t), 200);
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', t), 200);
      assert.equal(await send(vs.baseUrl, 'POST', 'auth/token/revoke-self', t), 204);
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', t), 403);
    });

    it('refuses a revoked child at once when its parent is revoked through the same api', async () => {
      const parent = await mint({ policies: ['root'] });
      const childRes = await fetch(`${vs.baseUrl}/vault/v1/auth/token/create`, { method: 'POST', headers: { 'x-vault-token': parent, 'content-type': 'application/json' }, body: JSON.stringify({ policies: ['default'] }) });
      const child = ((await childRes.json()) as { auth: { client_token: string } }).auth.client_token;
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', child), 200);
      assert.equal(await send(vs.baseUrl, 'POST', 'auth/token/revoke', root, { token: parent }), 204);
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', child), 403);
    });

    it('refuses a token revoked through another api replica once VAULT_TOKEN_CACHE_MS has passed', async () => {
      const t = await mint({ policies: ['default'] });
      assert.equal(await send(secondUrl, 'GET', 'auth/token/lookup-self', t), 200, 'cached by the second replica');
      assert.equal(await send(vs.baseUrl, 'POST', 'auth/token/revoke-self', t), 204);
      const revokedAt = performance.now();
      // The stated bound: 300 ms after the revocation, whatever the second replica cached.
      await new Promise((r) => setTimeout(r, 300 - (performance.now() - revokedAt) + 5));
      assert.equal(await send(secondUrl, 'GET', 'auth/token/lookup-self', t), 403);
    });

    it('never keeps a use-limited token: exactly num_uses requests succeed, even concurrently', async () => {
      for (const base of [vs.baseUrl, secondUrl]) {
        const t = await mint({ policies: ['default'], num_uses: 3 });
        const statuses = await Promise.all(Array.from({ length: 10 }, () => send(base, 'GET', 'auth/token/lookup-self', t)));
        assert.equal(statuses.filter((s) => s === 200).length, 3, statuses.join(','));
        assert.ok(statuses.every((s) => s === 200 || s === 403));
      }
    });

    it('never serves an expired token from the cache', async () => {
      const t = await mint({ policies: ['default'], ttl: '1s' });
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', t), 200);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(await send(vs.baseUrl, 'GET', 'auth/token/lookup-self', t), 403);
    });

    it('checks a cached token\'s bound CIDRs against every request\'s address', async () => {
      // A replica behind a trusted proxy (this test), so that the client address is the
      // forwarded one, with a cache that keeps a lookup for a minute.
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error', ZENO_TRUSTED_PROXIES: '127.0.0.1' });
      const api = await hostFunction(apiDecl, {
        config,
        database: tdb.database,
        log: silentLogger,
        metrics: createMetrics({ defaults: false }),
        events: createEventPublisher({ product: 'vault', source: '/vault/api' }),
        env: { VAULT_UNSEALER_URL: `${vs.baseUrl}/_fn/vault-unsealer`, VAULT_INTERNAL_KEY: internalKey.toString('base64'), VAULT_TOKEN_CACHE_MS: '60000' },
        catalog: () => import('#eventing/catalog').then((m) => m.catalog),
      });
      const proxied = await listen(api.app.fetch, { port: 0, host: '127.0.0.1' });
      try {
        const from = async (address: string, method: string, path: string, token?: string, body?: unknown) => {
          const res = await fetch(`http://127.0.0.1:${proxied.port}/vault/v1/${path}`, {
            method,
            headers: { 'x-forwarded-for': address, ...(token ? { 'x-vault-token': token } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as Record<string, any> };
        };
        assert.equal(await send(vs.baseUrl, 'PUT', 'auth/approle/role/cidr', root, { token_policies: ['default'], token_bound_cidrs: ['10.0.0.0/8'] }), 204);
        const roleId = (await from('10.1.2.3', 'GET', 'auth/approle/role/cidr/role-id', root)).body.data.role_id as string;
        const secretId = (await from('10.1.2.3', 'POST', 'auth/approle/role/cidr/secret-id', root)).body.data.secret_id as string;
        const login = await from('10.1.2.3', 'POST', 'auth/approle/login', undefined, { role_id: roleId, secret_id: secretId });
        assert.equal(login.status, 200, JSON.stringify(login.body));
        const t = login.body.auth.client_token as string;
        assert.equal((await from('10.1.2.3', 'GET', 'auth/token/lookup-self', t)).status, 200, 'looked up, then kept');
        assert.equal((await from('10.9.9.9', 'GET', 'auth/token/lookup-self', t)).status, 200, 'from the cache, inside the CIDR');
        assert.equal((await from('192.0.2.7', 'GET', 'auth/token/lookup-self', t)).status, 403, 'from the cache, outside the CIDR');
        assert.equal((await from('10.1.2.3', 'GET', 'auth/token/lookup-self', t)).status, 200, 'still usable from inside');
      } finally {
        await proxied.close(500);
      }
    });

    it('applies a policy change made through the same api to a cached token at once', async () => {
      await send(vs.baseUrl, 'PUT', 'sys/policies/acl/flip', root, { policy: 'path "secret/data/c0" { capabilities = ["read"] }' });
      const t = await mint({ policies: ['flip'] });
      assert.equal(await send(vs.baseUrl, 'GET', 'secret/data/c0', t), 200);
      await send(vs.baseUrl, 'PUT', 'sys/policies/acl/flip', root, { policy: 'path "secret/data/c0" { capabilities = ["deny"] }' });
      assert.equal(await send(vs.baseUrl, 'GET', 'secret/data/c0', t), 403);
    });
  });
});
