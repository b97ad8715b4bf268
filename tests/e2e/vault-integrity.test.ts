// Row integrity against a database writer, over real HTTP on real PostgreSQL: a token row of the
// attacker's choosing, a policy or token row altered, a secret rolled back, ciphertexts swapped, a
// mount row altered. Each is refused with 403 "integrity check failed", audited and counted. Then
// the upgrade: rows written before MACs are signed at the first unseal, and unsigned rows
// inserted afterwards are refused.
// @see https://developer.hashicorp.com/vault/docs/internals/security
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitUntil } from '#tests/support/poll';
import { aad, CANARY_TEXT, seal } from '#functions/vault/core/envelope';
import { combine } from '#functions/vault/core/shamir';
import { decodeShare } from '#functions/vault/unsealer/keyring';
import { startVaultServer, statusOf, type VaultServer } from './vault-server.js';

const REFUSED = { errors: ['integrity check failed'] };

/**
 * These tests change token rows under a running api and expect the very next lookup to check
 * them: the api's token cache (which serves a token for up to VAULT_TOKEN_CACHE_MS, its bound
 * tested in vault-cache.test.ts) is off here.
 */
const NO_TOKEN_CACHE = { VAULT_TOKEN_CACHE_MS: '0' };

describe('ZenoVault row integrity against a database writer', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let rootToken: string;
  let unsealKey: string;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  const q = <T extends Record<string, unknown>>(query: ReturnType<typeof sql>) => tdb.database.query<T>(query);

  /** A raw call, so the status and body are the vault's own. */
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'x-vault-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };

  /** How many times rows of `table` were refused, over the api's and the unsealer's registries. */
  const failures = async (table: string) => {
    const text = await vs.metricsText();
    let n = 0;
    for (const line of text.split('\n')) {
      const m = /^zeno_vault_integrity_failures_total\{table="([^"]+)"\} (\d+)/.exec(line);
      if (m && m[1] === table) n += Number(m[2]);
    }
    return n;
  };

  /** Audit rows of `path` refused for integrity since `afterSeq`. */
  const refusedAudits = async (path: string, afterSeq: number) =>
    (await q<{ n: number }>(sql`select count(*)::int as n from vault.audit_log where path = ${path} and seq > ${afterSeq}
      and error = 'integrity check failed'`))[0]!.n;
  const lastSeq = async () => (await q<{ s: number }>(sql`select coalesce(max(seq), 0)::int as s from vault.audit_log`))[0]!.s;

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database, NO_TOKEN_CACHE);
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    unsealKey = init.keys[0];
    await client().unseal({ key: unsealKey });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('refuses a root token row inserted by a database writer, with or without a made-up MAC', async () => {
    const before = await failures('tokens');
    const seq = await lastSeq();
    for (const mac of [null, randomBytes(32)]) {
      const token = `hvs.${randomBytes(32).toString('base64url')}`;
      const hash = createHash('sha256').update(token).digest();
      await q(sql`insert into vault.tokens (hash, accessor, policies, display_name, path, ttl_seconds, orphan, mac)
        values (${hash}, ${randomBytes(18).toString('base64url')}, '{root}', 'root', 'auth/token/root', 0, true, ${mac})`);
      const res = await call('GET', 'secret/data/anything', token);
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, REFUSED);
      // Nor does it seal the vault.
      const sealRes = await call('PUT', 'sys/seal', token);
      assert.equal(sealRes.status, 403);
      assert.deepEqual(sealRes.body, REFUSED);
    }
    assert.equal((await client().status()).sealed, false);
    assert.equal(await refusedAudits('secret/data/anything', seq), 2, 'each refusal has its audit row');
    assert.equal(await refusedAudits('sys/seal', seq), 2, 'sys/seal audits its refusals too');
    assert.equal((await failures('tokens')) - before, 4);
  });

  it("refuses a token whose policies a database writer changed, and a copy of another token's row", async () => {
    const minted = await client(rootToken).tokenCreate({ policies: ['default'], ttl: '1h' });
    const t = minted.auth.client_token as string;
    assert.equal(await statusOf(client(t).tokenLookupSelf()), 200);
    const before = await failures('tokens');
    const seq = await lastSeq();
    await q(sql`update vault.tokens set policies = '{root}' where accessor = ${minted.auth.accessor}`);
    const res = await call('GET', 'sys/policy', t);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal(await refusedAudits('sys/policy', seq), 1);
    // The root token's MAC copied onto this row does not fit it either (the MAC binds the hash).
    const rootAccessor = (await client(rootToken).tokenLookupSelf()).data.accessor as string;
    await q(sql`update vault.tokens d set policies = r.policies, mac = r.mac, ttl_seconds = 0, expires_at = null, path = r.path,
      display_name = r.display_name, orphan = r.orphan, parent_accessor = null, renewable = r.renewable, created_at = r.created_at
      from vault.tokens r where d.accessor = ${minted.auth.accessor} and r.accessor = ${rootAccessor}`);
    assert.deepEqual((await call('GET', 'sys/policy', t)).body, REFUSED);
    // Lookups of another token check it as well.
    assert.deepEqual((await call('POST', 'auth/token/lookup', rootToken, { token: t })).body, REFUSED);
    assert.deepEqual((await call('POST', 'auth/token/lookup-accessor', rootToken, { accessor: minted.auth.accessor })).body, REFUSED);
    assert.equal((await failures('tokens')) - before, 4);
    // The root token itself is untouched and still works.
    assert.equal(await statusOf(client(rootToken).tokenLookupSelf()), 200);
  });

  it('refuses a token whose use count was raised, and spends uses exactly otherwise', async () => {
    const minted = await client(rootToken).tokenCreate({ policies: ['default'], num_uses: 3 });
    const t = minted.auth.client_token as string;
    assert.equal(await statusOf(client(t).tokenLookupSelf()), 200);
    const [row] = await q<{ n: number }>(sql`select num_uses as n from vault.tokens where accessor = ${minted.auth.accessor}`);
    assert.equal(row!.n, 2, 'a use re-signs the row with the decremented count');
    await q(sql`update vault.tokens set num_uses = 1000 where accessor = ${minted.auth.accessor}`);
    assert.deepEqual((await call('GET', 'auth/token/lookup-self', t)).body, REFUSED);
  });

  it('spends uses exactly under concurrency, with renewals re-signing the same row in between', async () => {
    const minted = await client(rootToken).tokenCreate({ policies: ['default'], num_uses: 20, ttl: '1h' });
    const t = minted.auth.client_token as string;
    const uses = Array.from({ length: 40 }, () => call('GET', 'auth/token/lookup-self', t));
    const renewals = Array.from({ length: 10 }, () => call('POST', 'auth/token/renew', rootToken, { token: t, increment: '2h' }));
    const statuses = (await Promise.all(uses)).map((r) => r.status);
    assert.equal(statuses.filter((x) => x === 200).length, 20, 'exactly its 20 uses were served');
    assert.equal(statuses.filter((x) => x === 403).length, 20);
    for (const r of await Promise.all(renewals)) assert.ok(r.status === 200 || r.status === 400, String(r.status));
    const [left] = await q<{ n: number }>(sql`select count(*)::int as n from vault.tokens where accessor = ${minted.auth.accessor}`);
    assert.equal(left!.n, 0, 'the last use revoked it');
  });

  it("refuses a policy whose rules a database writer changed, and one a writer inserted", async () => {
    await client(rootToken).addPolicy({ name: 'narrow', rules: 'path "secret/data/narrow" { capabilities = ["read"] }' });
    const narrow = (await client(rootToken).tokenCreate({ policies: ['narrow'], ttl: '1h' })).auth.client_token as string;
    const before = await failures('policies');
    const seq = await lastSeq();
    await q(sql`update vault.policies set rules = '[{"path":"*","capabilities":["create","read","update","delete","list","sudo"]}]'::jsonb
      where name = 'narrow'`);
    const res = await call('GET', 'secret/data/other', narrow);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal(await refusedAudits('secret/data/other', seq), 1);
    // Reading the policy refuses it too.
    assert.deepEqual((await call('GET', 'sys/policies/acl/narrow', rootToken)).body, REFUSED);
    // A policy row inserted by the writer for a name a token already carries.
    const wide = (await client(rootToken).tokenCreate({ policies: ['planted'], ttl: '1h' })).auth.client_token as string;
    await q(sql`insert into vault.policies (name, text, rules) values ('planted', 'path "*" { capabilities = ["sudo"] }',
      '[{"path":"*","capabilities":["create","read","update","delete","list","sudo"]}]'::jsonb)`);
    assert.deepEqual((await call('GET', 'secret/data/other', wide)).body, REFUSED);
    assert.equal((await failures('policies')) - before, 3);
  });

  it("refuses two secrets' swapped ciphertexts and wrapped DEKs", async () => {
    const vault = client(rootToken);
    await vault.write('secret/data/swap/a', { data: { v: 'alpha' } });
    await vault.write('secret/data/swap/b', { data: { v: 'bravo' } });
    const before = await failures('kv_versions');
    const seq = await lastSeq();
    await q(sql`update vault.kv_versions d set ciphertext = s.ciphertext, wrapped_dek = s.wrapped_dek
      from vault.kv_versions s where d.path = 'swap/a' and s.path = 'swap/b'`);
    const res = await call('GET', 'secret/data/swap/a', rootToken);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.ok(!JSON.stringify(res.body).includes('bravo'));
    // The wrapped DEK alone.
    await vault.write('secret/data/swap/c', { data: { v: 'charlie' } });
    await q(sql`update vault.kv_versions d set wrapped_dek = s.wrapped_dek
      from vault.kv_versions s where d.path = 'swap/c' and s.path = 'swap/b'`);
    assert.deepEqual((await call('GET', 'secret/data/swap/c', rootToken)).body, REFUSED);
    assert.equal(await refusedAudits('secret/data/swap/a', seq), 1, 'the response audit row says why');
    assert.equal((await failures('kv_versions')) - before, 2);
    assert.equal((await vault.read('secret/data/swap/b')).data.data.v, 'bravo', 'the source row still reads');
  });

  it("refuses a secret's metadata and versions rolled back together to an older valid state", async () => {
    const vault = client(rootToken);
    await vault.write('secret/data/roll/x', { data: { password: 'old' } });
    const [md] = await q<Record<string, unknown>>(sql`select * from vault.kv_metadata where path = 'roll/x'`);
    // Revoke the old password: a new version, the old one destroyed.
    await vault.write('secret/data/roll/x', { data: { password: 'new' } });
    await vault.write('secret/destroy/roll/x', { versions: [1] });
    const [v1] = await q<Record<string, unknown>>(sql`select * from vault.kv_versions where path = 'roll/x' and version = 1`);
    assert.equal(v1!.destroyed, true);
    const before = await failures('kv_metadata');
    const seq = await lastSeq();
    // The writer puts back the rows as they were after the first write: a consistent older state.
    await q(sql`delete from vault.kv_versions where path = 'roll/x' and version = 2`);
    await q(sql`update vault.kv_metadata set current_version = ${md!.current_version}, oldest_version = ${md!.oldest_version},
      updated_at = ${md!.updated_at}, seq = ${md!.seq}, epoch = ${md!.epoch}, mac = ${md!.mac} where path = 'roll/x'`);
    const res = await call('GET', 'secret/data/roll/x', rootToken);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal(await refusedAudits('secret/data/roll/x', seq), 1);
    assert.ok((await failures('kv_metadata')) > before);
  });

  it('refuses a deleted secret put back by a database writer, and writes it afresh through the API', async () => {
    const vault = client(rootToken);
    await vault.write('secret/data/gone/z', { data: { password: 'revoked' } });
    const [md] = await q<Record<string, unknown>>(sql`select * from vault.kv_metadata where path = 'gone/z'`);
    const [v1] = await q<Record<string, unknown>>(sql`select * from vault.kv_versions where path = 'gone/z'`);
    await vault.delete('secret/metadata/gone/z');
    assert.equal(await statusOf(vault.read('secret/data/gone/z')), 404);
    assert.equal(await statusOf(vault.list('secret/metadata/gone')), 404, 'a deleted path is not listed');
    const seq = await lastSeq();
    await q(sql`insert into vault.kv_versions (mount, path, version, seq, ciphertext, wrapped_dek, created_at, deleted_at, destroyed, mac)
      values (${v1!.mount}, ${v1!.path}, ${v1!.version}, ${v1!.seq}, ${v1!.ciphertext}, ${v1!.wrapped_dek}, ${v1!.created_at}, null, false, ${v1!.mac})`);
    await q(sql`update vault.kv_metadata set current_version = ${md!.current_version}, oldest_version = ${md!.oldest_version},
      created_at = ${md!.created_at}, updated_at = ${md!.updated_at}, seq = ${md!.seq}, epoch = ${md!.epoch}, deleted = false, mac = ${md!.mac}
      where path = 'gone/z'`);
    assert.deepEqual((await call('GET', 'secret/data/gone/z', rootToken)).body, REFUSED);
    assert.equal(await refusedAudits('secret/data/gone/z', seq), 1);
    // Through the API, a path written again after its metadata was deleted goes on from its seq.
    await vault.write('secret/data/gone/y', { data: { password: 'one' } });
    await vault.delete('secret/metadata/gone/y');
    await vault.write('secret/data/gone/y', { data: { password: 'two' } });
    const read = await vault.read('secret/data/gone/y');
    assert.equal(read.data.data.password, 'two');
    assert.equal(read.data.metadata.version, 1, 'a path written after its metadata was deleted starts at version 1, as in Vault');
    const [y] = await q<{ seq: string }>(sql`select seq from vault.kv_metadata where path = 'gone/y'`);
    assert.equal(Number(y!.seq), 3, 'write, delete, write: the seq never went back');
  });

  it('refuses metadata rolled back alone even in a process that never saw the newer state', async () => {
    const vault = client(rootToken);
    await vault.write('secret/data/roll/y', { data: { password: 'old' } });
    const [md] = await q<Record<string, unknown>>(sql`select * from vault.kv_metadata where path = 'roll/y'`);
    await vault.write('secret/data/roll/y', { data: { password: 'new' } });
    await q(sql`update vault.kv_metadata set current_version = ${md!.current_version}, updated_at = ${md!.updated_at},
      seq = ${md!.seq}, epoch = ${md!.epoch}, mac = ${md!.mac} where path = 'roll/y'`);
    // A second vault process on the same database: its memory holds nothing of roll/y.
    const other = await startVaultServer(tdb.database, NO_TOKEN_CACHE);
    try {
      await nodeVault({ apiVersion: 'v1', endpoint: other.endpoint, noCustomHTTPVerbs: true }).unseal({ key: unsealKey });
      const res = await fetch(`${other.baseUrl}/vault/v1/secret/data/roll/y`, { headers: { 'x-vault-token': rootToken } });
      assert.equal(res.status, 403, 'version 2 was written after the metadata row it sits under');
      assert.deepEqual(await res.json(), REFUSED);
      const meta = await fetch(`${other.baseUrl}/vault/v1/secret/metadata/roll/y`, { headers: { 'x-vault-token': rootToken } });
      assert.equal(meta.status, 403);
    } finally {
      await other.close();
    }
  });

  it('refuses a mount row a database writer altered', async () => {
    // Transit opens its key through the unsealer at every use (the api caches KV DEKs, not
    // transit keys), so the unsealer reads the mount row at the first use after its restart.
    const plaintext = Buffer.from('mount check').toString('base64');
    assert.equal((await call('POST', 'transit/encrypt/mount-check', rootToken, { plaintext })).status, 200);
    const [original] = await q<{ wrapped_kek: Uint8Array }>(sql`select wrapped_kek from vault.mounts where path = 'transit/'`);
    // Another KEK in the transit/ row (secret/'s), under its name: the unsealer reads it at its next unseal.
    await q(sql`update vault.mounts d set wrapped_kek = s.wrapped_kek from vault.mounts s where d.path = 'transit/' and s.path = 'secret/'`);
    await vs.restartUnsealer();
    await client().unseal({ key: unsealKey });
    const before = await failures('mounts');
    const seq = await lastSeq();
    const res = await call('POST', 'transit/encrypt/mount-check', rootToken, { plaintext });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal(await refusedAudits('transit/encrypt/mount-check', seq), 1);
    assert.equal((await failures('mounts')) - before, 1);
    // Put back as it was, the row is the vault's again.
    await q(sql`update vault.mounts set wrapped_kek = ${original!.wrapped_kek} where path = 'transit/'`);
    assert.equal((await call('POST', 'transit/encrypt/mount-check', rootToken, { plaintext })).status, 200);
  });

  it('refuses an epoch row put back under a running vault (a database restored while unsealed)', async () => {
    const [old] = await q<{ epoch: number; mac: Uint8Array }>(sql`select epoch, mac from vault.integrity_state`);
    await vs.restartUnsealer();
    await client().unseal({ key: unsealKey });
    // The api's first call for the row MAC after the unseal advances the epoch.
    await waitUntil('the epoch to advance at the unseal', async () => {
      assert.equal(await statusOf(client(rootToken).tokenLookupSelf()), 200);
      const [now] = await q<{ epoch: number }>(sql`select epoch from vault.integrity_state`);
      return now!.epoch > old!.epoch;
    });
    await q(sql`update vault.integrity_state set epoch = ${old!.epoch}, mac = ${old!.mac}`);
    // The api asks for the row MAC again within its cache bound; from then on it is refused.
    await waitUntil('the rolled-back epoch to be refused', async () => (await call('GET', 'auth/token/lookup-self', rootToken)).status === 403);
    const seq = await lastSeq();
    assert.deepEqual((await call('GET', 'auth/token/lookup-self', rootToken)).body, REFUSED);
    assert.equal(await refusedAudits('auth/token/lookup-self', seq), 1);
    assert.ok((await failures('integrity_state')) > 0);
  });
});

describe('ZenoVault row integrity: the upgrade from rows without MACs', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  const q = <T extends Record<string, unknown>>(query: ReturnType<typeof sql>) => tdb.database.query<T>(query);
  const unsigned = async () => Number(
    (await q<{ n: number }>(sql`select (select count(*) from vault.tokens where mac is null) + (select count(*) from vault.policies where mac is null)
      + (select count(*) from vault.mounts where mac is null) + (select count(*) from vault.kv_metadata where mac is null)
      + (select count(*) from vault.kv_versions where mac is null) as n`))[0]!.n);

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database, NO_TOKEN_CACHE);
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('signs the rows of a vault written before MACs at its first unseal, then refuses unsigned rows', async () => {
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    const root = init.root_token as string;
    await client().unseal({ key: init.keys[0] });
    const vault = client(root);
    await vault.addPolicy({ name: 'app', rules: 'path "secret/data/app/*" { capabilities = ["read"] }' });
    // node-vault adopts the token a tokenCreate returns: mint with a throw-away client.
    const app = (await client(root).tokenCreate({ policies: ['app'], ttl: '1h' })).auth.client_token as string;
    await vault.write('secret/data/app/db', { data: { password: 'p1' } });
    await vault.write('secret/data/app/db', { data: { password: 'p2' } });
    // The database as the previous release left it: no MACs, no epoch row, the first canary.
    const rootKey = combine([decodeShare(init.keys[0])]);
    await q(sql`update vault.tokens set mac = null`);
    await q(sql`update vault.policies set mac = null`);
    await q(sql`update vault.mounts set mac = null`);
    await q(sql`update vault.kv_metadata set mac = null, seq = 0, epoch = 0`);
    await q(sql`update vault.kv_versions set mac = null, seq = 0`);
    await q(sql`delete from vault.integrity_state`);
    await q(sql`update vault.seal_config set canary = ${seal(rootKey, CANARY_TEXT, aad.canary())}`);
    rootKey.fill(0);
    assert.ok((await unsigned()) >= 7);

    // The new release: new processes, unsealed.
    await vs.close();
    vs = await startVaultServer(tdb.database, NO_TOKEN_CACHE);
    await client().unseal({ key: init.keys[0] });
    const reader = client(app);
    assert.equal((await reader.read('secret/data/app/db')).data.data.password, 'p2');
    assert.equal((await reader.read('secret/data/app/db?version=1')).data.data.password, 'p1');
    assert.equal(await unsigned(), 0, 'every row is signed');
    assert.equal((await q<{ n: number }>(sql`select count(*)::int as n from vault.integrity_state`))[0]!.n, 1);

    // From now on an unsigned row is a forgery, whether inserted or a signed row with its MAC removed.
    const token = `hvs.${randomBytes(32).toString('base64url')}`;
    await q(sql`insert into vault.tokens (hash, accessor, policies, display_name, path, ttl_seconds, orphan)
      values (${createHash('sha256').update(token).digest()}, 'planted', '{root}', 'root', 'auth/token/root', 0, true)`);
    assert.equal(await statusOf(client(token).tokenLookupSelf()), 403);
    await q(sql`update vault.tokens set mac = null where accessor <> 'planted' and policies = '{app,default}'`);
    assert.equal(await statusOf(reader.tokenLookupSelf()), 403);

    // Nor does a restart sign them: the canary says the upgrade is done.
    await vs.restartUnsealer();
    await client().unseal({ key: init.keys[0] });
    assert.equal(await statusOf(client(token).tokenLookupSelf()), 403);
    assert.equal(await statusOf(client(root).tokenLookupSelf()), 200);
    // Removing the keyring key (so that a new one would sign everything) is refused, not obeyed.
    await q(sql`update vault.seal_config set wrapped_keyring_key = null`);
    await vs.restartUnsealer();
    await client().unseal({ key: init.keys[0] });
    // The vault refuses to work rather than sign (once the api's one-second row-MAC cache lapses).
    await waitUntil('the root token to be refused', async () => (await statusOf(client(root).tokenLookupSelf())) === 403);
    const res = await fetch(`${vs.baseUrl}/vault/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': token } });
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), REFUSED);
    assert.equal((await q<{ n: number }>(sql`select count(*)::int as n from vault.tokens where mac is null`))[0]!.n, 2, 'nothing was signed');
  });
});
