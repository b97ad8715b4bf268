// ZenoVault end to end with node-vault (npm) over real HTTP: init 5/3, unseal with several
// 3-of-5 combinations, KV v2 lifecycle, tokens, policies, unsealer restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

type Client = ReturnType<typeof nodeVault>;
type ApiError = Error & { response?: { statusCode: number; body: { errors?: string[] } } };

async function failure(p: Promise<unknown>): Promise<{ status: number; errors: string[] | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as ApiError;
    if (!e.response) throw err;
    return { status: e.response.statusCode, errors: e.response.body?.errors };
  }
  assert.fail('expected the call to fail');
}

describe('ZenoVault with node-vault', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let vault: Client;
  let keys: string[];
  let rootToken: string;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });

  // node-vault adopts the token a tokenCreate returns: mint with a throw-away client.
  const mint = (opts: Record<string, unknown>, token = rootToken) => client(token).tokenCreate(opts);

  const unsealWith = async (idx: number[]) => {
    let status: { sealed: boolean; progress: number } | undefined;
    for (const i of idx) status = await vault.unseal({ key: keys[i]! });
    return status!;
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    vault = client();
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  describe('sys/init, sys/unseal, sys/seal, sys/health', () => {
    it('reports an uninitialised vault with 501 on sys/health and initialized=false', async () => {
      const health = await fetch(`${vs.baseUrl}/vault/v1/sys/health`);
      assert.equal(health.status, 501);
      assert.deepEqual(await vault.initialized(), { initialized: false });
    });

    it('initialises with 5 shares and threshold 3, showing the shares once', async () => {
      const res = await vault.init({ secret_shares: 5, secret_threshold: 3 });
      assert.equal(res.keys.length, 5);
      assert.equal(res.keys_base64.length, 5);
      for (const [i, k] of res.keys.entries()) {
        assert.match(k, /^[0-9a-f]{66}$/);
        assert.equal(Buffer.from(res.keys_base64[i], 'base64').toString('hex'), k);
      }
      assert.match(res.root_token, /^hvs\./);
      keys = res.keys;
      rootToken = res.root_token;
      vault.token = rootToken;
      const status = await vault.status();
      assert.equal(status.sealed, true);
      assert.equal(status.t, 3);
      assert.equal(status.n, 5);
      assert.equal((await fetch(`${vs.baseUrl}/vault/v1/sys/health`)).status, 503);
      assert.equal((await fetch(`${vs.baseUrl}/vault/v1/sys/health?sealedcode=200`)).status, 200);
      const again = await failure(vault.init({ secret_shares: 1, secret_threshold: 1 }));
      assert.deepEqual(again, { status: 400, errors: ['Vault is already initialized'] });
    });

    it('unseals with several different 3-of-5 combinations, sealing in between', async () => {
      for (const combo of [[0, 1, 2], [4, 3, 2], [0, 2, 4], [1, 3, 0]]) {
        const mid = await vault.unseal({ key: keys[combo[0]!]! });
        assert.equal(mid.progress, 1);
        assert.equal(mid.sealed, true);
        const status = await unsealWith(combo.slice(1));
        assert.equal(status.sealed, false, `combination ${combo}`);
        assert.equal((await fetch(`${vs.baseUrl}/vault/v1/sys/health`)).status, 200);
        await vault.seal();
        assert.equal((await vault.status()).sealed, true);
      }
      await unsealWith([2, 3, 4]);
    });

    it('refuses sys/seal without a sudo token', async () => {
      const anonymous = client();
      assert.equal((await failure(anonymous.seal())).status, 403);
      assert.equal((await vault.status()).sealed, false);
    });

    it('takes the base64 form of a share and the reset flag', async () => {
      await vault.seal();
      const b64 = Buffer.from(keys[0]!, 'hex').toString('base64');
      assert.equal((await vault.unseal({ key: b64 })).progress, 1);
      assert.equal((await vault.unseal({ reset: true })).progress, 0);
      const bad = Buffer.from(keys[1]!, 'hex');
      bad[0]! ^= 1;
      await vault.unseal({ key: keys[0]! });
      await vault.unseal({ key: bad.toString('hex') });
      const wrong = await failure(vault.unseal({ key: keys[2]! }));
      assert.equal(wrong.status, 400);
      assert.match(wrong.errors![0]!, /verification canary.*progress was reset/);
      assert.equal((await vault.status()).progress, 0);
      await unsealWith([0, 1, 2]);
    });
  });

  describe('KV version 2 at secret/', () => {
    it('writes versions, reads the latest and any version, with numbers as numbers', async () => {
      const w1 = await vault.write('secret/data/app/db', { data: { user: 'app', password: 's3cret-one', port: 5432 } });
      assert.equal(w1.data.version, 1);
      assert.equal(w1.data.destroyed, false);
      const w2 = await vault.write('secret/data/app/db', { data: { user: 'app', password: 's3cret-two', port: 5432 } });
      assert.equal(w2.data.version, 2);
      const latest = await vault.read('secret/data/app/db');
      assert.deepEqual(latest.data.data, { user: 'app', password: 's3cret-two', port: 5432 });
      assert.equal(latest.data.metadata.version, 2);
      for (const k of ['request_id', 'lease_id', 'renewable', 'lease_duration', 'data', 'wrap_info', 'warnings', 'auth']) {
        assert.ok(k in latest, `envelope has ${k}`);
      }
      const v1 = await vault.read('secret/data/app/db?version=1');
      assert.equal(v1.data.data.password, 's3cret-one');
    });

    it('checks and sets: cas 0 creates only, a stale cas is refused, the right one writes', async () => {
      await vault.write('secret/data/cas', { data: { v: 1 }, options: { cas: 0 } });
      const stale = await failure(vault.write('secret/data/cas', { data: { v: 2 }, options: { cas: 0 } }));
      assert.deepEqual(stale, { status: 400, errors: ['check-and-set parameter did not match the current version'] });
      const ok = await vault.write('secret/data/cas', { data: { v: 2 }, options: { cas: 1 } });
      assert.equal(ok.data.version, 2);
      await vault.write('secret/metadata/cas', { cas_required: true });
      const missing = await failure(vault.write('secret/data/cas', { data: { v: 3 } }));
      assert.deepEqual(missing, { status: 400, errors: ['check-and-set parameter required for this call'] });
      assert.equal((await vault.read('secret/data/cas')).data.data.v, 2, 'a refused write leaves nothing behind');
    });

    it('serialises concurrent writers with the same cas: exactly one wins', async () => {
      await vault.write('secret/data/race', { data: { n: 0 } });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => vault.write('secret/data/race', { data: { n: i + 1 }, options: { cas: 1 } })),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const md = await vault.read('secret/metadata/race');
      assert.equal(md.data.current_version, 2);
    });

    it('lets exactly one of concurrent creators with cas 0 create a new path', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => vault.write('secret/data/fresh-race', { data: { n: i }, options: { cas: 0 } })),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const md = await vault.read('secret/metadata/fresh-race');
      assert.equal(md.data.current_version, 1);
      assert.deepEqual(Object.keys(md.data.versions), ['1']);
      await vault.delete('secret/metadata/fresh-race');
    });

    it('lands every concurrent writer without cas, each under its own version', async () => {
      const writes = await Promise.all(Array.from({ length: 8 }, (_, i) => vault.write('secret/data/busy', { data: { i } })));
      assert.deepEqual(writes.map((w) => w.data.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
      await vault.delete('secret/metadata/busy');
    });

    it('patches with a JSON merge patch (node-vault update), needing the patch capability', async () => {
      await vault.write('secret/data/patchme', { data: { a: '1', b: '2', nested: { x: 1, y: 2 } } });
      const patched = await vault.update('secret/data/patchme', { data: { b: null, c: '3', nested: { y: null } } });
      assert.equal(patched.data.version, 2);
      assert.deepEqual((await vault.read('secret/data/patchme')).data.data, { a: '1', c: '3', nested: { x: 1 } });
      const stale = await failure(vault.update('secret/data/patchme', { data: { d: '4' }, options: { cas: 1 } }));
      assert.equal(stale.status, 400);
      const wrongType = await fetch(`${vs.baseUrl}/vault/v1/secret/data/patchme`, { method: 'PATCH', headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' }, body: '{"data":{"d":"4"}}' });
      assert.equal(wrongType.status, 415);
      assert.equal((await failure(vault.update('secret/data/never-there', { data: { a: 1 } }))).status, 404);
      await vault.write('sys/policies/acl/no-patch', { policy: 'path "secret/data/patchme" { capabilities = ["read", "update"] }' });
      const writer = client((await mint({ policies: ['no-patch'] })).auth.client_token);
      assert.equal((await failure(writer.update('secret/data/patchme', { data: { e: '5' } }))).status, 403);
    });

    it('soft-deletes, undeletes and destroys versions', async () => {
      await vault.delete('secret/data/app/db');
      const gone = await failure(vault.read('secret/data/app/db'));
      assert.equal(gone.status, 404);
      assert.equal((await vault.read('secret/data/app/db?version=1')).data.data.password, 's3cret-one');
      await vault.write('secret/undelete/app/db', { versions: [2] });
      assert.equal((await vault.read('secret/data/app/db')).data.data.password, 's3cret-two');
      await vault.write('secret/delete/app/db', { versions: [1] });
      assert.equal((await failure(vault.read('secret/data/app/db?version=1'))).status, 404);
      await vault.write('secret/destroy/app/db', { versions: [1] });
      await vault.write('secret/undelete/app/db', { versions: [1] });
      assert.equal((await failure(vault.read('secret/data/app/db?version=1'))).status, 404, 'a destroyed version stays gone');
      const md = await vault.read('secret/metadata/app/db');
      assert.equal(md.data.versions['1'].destroyed, true);
      assert.equal(md.data.versions['2'].destroyed, false);
      assert.equal(md.data.versions['2'].deletion_time, '');
    });

    it('keeps custom metadata and max_versions, pruning the oldest versions', async () => {
      await vault.write('secret/metadata/pruned', { max_versions: 2, custom_metadata: { owner: 'team-a' } });
      for (let i = 1; i <= 4; i++) await vault.write('secret/data/pruned', { data: { i } });
      const md = await vault.read('secret/metadata/pruned');
      assert.equal(md.data.max_versions, 2);
      assert.equal(md.data.current_version, 4);
      assert.equal(md.data.oldest_version, 3);
      assert.deepEqual(Object.keys(md.data.versions), ['3', '4']);
      assert.deepEqual(md.data.custom_metadata, { owner: 'team-a' });
      assert.equal((await failure(vault.read('secret/data/pruned?version=1'))).status, 404);
      const read = await vault.read('secret/data/pruned');
      assert.deepEqual(read.data.metadata.custom_metadata, { owner: 'team-a' });
    });

    it('lists folders through GET ?list=true (node-vault noCustomHTTPVerbs) and 404s an empty folder', async () => {
      await vault.write('secret/data/app/api', { data: { k: 'v' } });
      await vault.write('secret/data/app/nested/deep', { data: { k: 'v' } });
      const root = await vault.list('secret/metadata/');
      assert.deepEqual(root.data.keys, ['app/', 'cas', 'patchme', 'pruned', 'race']);
      const app = await vault.list('secret/metadata/app');
      assert.deepEqual(app.data.keys, ['api', 'db', 'nested/']);
      const viaTrue = await fetch(`${vs.baseUrl}/vault/v1/secret/metadata/app/?list=true`, { headers: { 'x-vault-token': rootToken } });
      assert.deepEqual(((await viaTrue.json()) as { data: { keys: string[] } }).data.keys, ['api', 'db', 'nested/']);
      assert.equal((await failure(vault.list('secret/metadata/nothing-here'))).status, 404);
    });

    it('has the LIST verb refused by the HTTP parser before any handler (clients must send GET ?list=true)', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${vs.baseUrl}/vault/v1/secret/metadata/app`, { method: 'LIST', headers: { 'x-vault-token': rootToken } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 400);
    });

    it('deletes metadata and all versions', async () => {
      await vault.delete('secret/metadata/pruned');
      assert.equal((await failure(vault.read('secret/metadata/pruned'))).status, 404);
      assert.equal((await failure(vault.read('secret/data/pruned'))).status, 404);
    });
  });

  describe('tokens', () => {
    it('looks itself up with what External Secrets Operator reads: type, numeric ttl, expire_time', async () => {
      const created = await mint({ policies: ['default'], ttl: '1h', display_name: 'eso' });
      const t = client(created.auth.client_token);
      const self = await t.tokenLookupSelf();
      assert.equal(self.data.type, 'service');
      assert.equal(typeof self.data.ttl, 'number');
      assert.ok(self.data.ttl > 3500 && self.data.ttl <= 3600);
      assert.ok(!Number.isNaN(Date.parse(self.data.expire_time)));
      assert.deepEqual(self.data.policies, ['default']);
      assert.equal(self.data.accessor, created.auth.accessor);
      assert.equal(self.data.display_name, 'token-eso');
      const root = await vault.tokenLookupSelf();
      assert.equal(root.data.expire_time, null);
      assert.equal(root.data.ttl, 0);
      assert.deepEqual(root.data.policies, ['root']);
    });

    it('renews itself and revokes itself', async () => {
      const created = await mint({ policies: ['default'], ttl: '10m' });
      const t = client(created.auth.client_token);
      const renewed = await t.tokenRenewSelf({ increment: '30m' });
      assert.ok(renewed.auth.lease_duration > 1700);
      await t.tokenRevokeSelf();
      assert.equal((await failure(t.tokenLookupSelf())).status, 403);
    });

    it('revokes children with their parent, but not orphans', async () => {
      await vault.write('sys/policy/parent', { rules: 'path "auth/token/create" { capabilities = ["update"] }' });
      const parentToken = (await mint({ policies: ['parent'] })).auth.client_token;
      const parent = client(parentToken);
      const child = client((await mint({ policies: ['default'] }, parentToken)).auth.client_token);
      const orphan = client((await mint({ policies: ['default'], no_parent: true })).auth.client_token);
      assert.equal((await orphan.tokenLookupSelf()).data.orphan, true);
      await parent.tokenRevokeSelf();
      assert.equal((await failure(child.tokenLookupSelf())).status, 403);
      assert.equal((await orphan.tokenLookupSelf()).data.orphan, true);
      const escalate = await failure(mint({ policies: ['default'] }, parentToken));
      assert.equal(escalate.status, 403, 'a revoked parent creates nothing');
    });

    it('refuses a child token with policies its parent lacks', async () => {
      const parentToken = (await mint({ policies: ['parent'] })).auth.client_token;
      const escalate = await failure(mint({ policies: ['root'] }, parentToken));
      assert.deepEqual(escalate, { status: 400, errors: ['child policies must be subset of parent'] });
    });

    it('expires a token after its ttl and its children with it', async () => {
      const shortToken = (await mint({ policies: ['parent'], ttl: '1s' })).auth.client_token;
      const short = client(shortToken);
      const child = client((await mint({ policies: ['default'], ttl: '1h' }, shortToken)).auth.client_token);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await failure(short.tokenLookupSelf())).status, 403);
      assert.equal((await failure(child.tokenLookupSelf())).status, 403);
    });

    it('honours num_uses', async () => {
      const limited = client((await mint({ policies: ['default'], num_uses: 2 })).auth.client_token);
      await limited.tokenLookupSelf();
      await limited.tokenLookupSelf();
      assert.equal((await failure(limited.tokenLookupSelf())).status, 403);
    });

    it('accepts Authorization: Bearer as well as X-Vault-Token, and refuses a wrong token', async () => {
      const ok = await fetch(`${vs.baseUrl}/vault/v1/auth/token/lookup-self`, { headers: { authorization: `Bearer ${rootToken}` } });
      assert.equal(ok.status, 200);
      const bad = await fetch(`${vs.baseUrl}/vault/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': 'hvs.forged' } });
      assert.equal(bad.status, 403);
      assert.deepEqual(await bad.json(), { errors: ['permission denied'] });
    });
  });

  describe('ACL policies', () => {
    it('allows what a policy grants and denies the rest, deny winning on the same path', async () => {
      await vault.write('sys/policies/acl/app-reader', {
        policy: `path "secret/data/app/*" { capabilities = ["read"] }
                 path "secret/metadata/app/*" { capabilities = ["list", "read"] }
                 path "secret/data/app/db" { capabilities = ["deny"] }`,
      });
      const stored = await vault.read('sys/policies/acl/app-reader');
      assert.match(stored.data.policy, /secret\/data\/app/);
      const reader = client((await mint({ policies: ['app-reader'] })).auth.client_token);
      assert.equal((await reader.read('secret/data/app/api')).data.data.k, 'v');
      assert.deepEqual(await failure(reader.read('secret/data/app/db')), { status: 403, errors: ['permission denied'] });
      assert.deepEqual(await failure(reader.read('secret/data/cas')), { status: 403, errors: ['permission denied'] });
      assert.deepEqual(await failure(reader.write('secret/data/app/api', { data: { k: 'x' } })), { status: 403, errors: ['permission denied'] });
      assert.deepEqual((await reader.list('secret/metadata/app/')).data.keys, ['api', 'db', 'nested/']);
      assert.equal((await failure(reader.write('sys/policies/acl/app-reader', { policy: 'path "*" { capabilities = ["sudo"] }' }))).status, 403);
    });

    it('distinguishes create from update on KV writes', async () => {
      await vault.write('sys/policies/acl/creator', { policy: 'path "secret/data/inbox/*" { capabilities = ["create"] }' });
      const creator = client((await mint({ policies: ['creator'] })).auth.client_token);
      await creator.write('secret/data/inbox/one', { data: { m: 1 } });
      assert.equal((await failure(creator.write('secret/data/inbox/one', { data: { m: 2 } }))).status, 403);
    });

    it('applies a policy change to the very next request', async () => {
      await vault.write('sys/policies/acl/flip', { policy: 'path "secret/data/app/api" { capabilities = ["read"] }' });
      const t = client((await mint({ policies: ['flip'] })).auth.client_token);
      assert.equal((await t.read('secret/data/app/api')).data.data.k, 'v');
      await vault.write('sys/policies/acl/flip', { policy: 'path "secret/data/app/api" { capabilities = ["deny"] }' });
      assert.equal((await failure(t.read('secret/data/app/api'))).status, 403);
      await vault.delete('sys/policies/acl/flip');
      assert.equal((await failure(t.read('secret/data/app/api'))).status, 403);
    });

    it('rejects a malformed policy with 400 and keeps the old one', async () => {
      const bad = await failure(vault.write('sys/policies/acl/app-reader', { policy: 'path "x" { capabilities = ["fly"] }' }));
      assert.equal(bad.status, 400);
      assert.match((await vault.read('sys/policies/acl/app-reader')).data.policy, /secret\/data\/app/);
      assert.ok((await vault.list('sys/policies/acl')).data.keys.includes('app-reader'));
    });
  });

  describe('unsealer restart', () => {
    it('comes back sealed: reads answer 503 until three shares are given again', async () => {
      await vs.restartUnsealer();
      assert.equal((await vault.status()).sealed, true);
      const sealed = await failure(vault.read('secret/data/app/api'));
      assert.deepEqual(sealed, { status: 503, errors: ['Vault is sealed'] });
      assert.equal((await fetch(`${vs.baseUrl}/vault/v1/sys/health`)).status, 503);
      await unsealWith([4, 0, 2]);
      assert.equal((await vault.read('secret/data/app/api')).data.data.k, 'v');
    });
  });
});
