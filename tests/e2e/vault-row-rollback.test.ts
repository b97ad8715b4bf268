// The rollback bound of the rows that are not KV secrets, over real HTTP on real PostgreSQL: a
// database writer keeps an earlier valid copy of a token, a policy, a token role or an AppRole
// secret id and puts it back after the vault changed or deleted the row. Each copy still carries
// the vault's own MAC; each is refused with 403 "integrity check failed", audited and counted,
// because its seq is below the one the vault process saw. A row deleted and written again
// through the API goes on above the old seq, so the vault's own re-created rows are accepted.
// @see https://developer.hashicorp.com/vault/docs/internals/security
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitUntil } from '#tests/support/poll';
import { databaseWriter, REFUSED, type DatabaseWriter } from './vault-db-writer.js';
import { startVaultServer, statusOf, type VaultServer } from './vault-server.js';

/** Token rows change under a running api here: its token cache is off (its bound is tested in vault-cache). */
const NO_TOKEN_CACHE = { VAULT_TOKEN_CACHE_MS: '0' };

describe('ZenoVault rollback of token, policy and role rows by a database writer', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let rootToken: string;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  let db: DatabaseWriter;

  const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'x-vault-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database, NO_TOKEN_CACHE);
    db = databaseWriter(tdb.database, vs);
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    await client().unseal({ key: init.keys[0] });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('refuses a token row put back with the uses it had before one was spent', async () => {
    const minted = await client(rootToken).tokenCreate({ policies: ['default'], num_uses: 3, ttl: '1h' });
    const t = minted.auth.client_token as string;
    const accessor = minted.auth.accessor as string;
    const earlier = await db.copyOf('tokens', 'accessor', accessor);
    assert.equal(await statusOf(client(t).tokenLookupSelf()), 200, 'the first use');
    const before = await db.failures('tokens');
    const seq = await db.lastSeq();
    await db.putBack('tokens', 'accessor', earlier);
    const res = await call('GET', 'auth/token/lookup-self', t);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal(await db.refusedAudits('auth/token/lookup-self', seq), 1);
    assert.equal((await db.failures('tokens')) - before, 1);
  });

  it('refuses a revoked token whose row a database writer put back', async () => {
    const minted = await client(rootToken).tokenCreate({ policies: ['default'], ttl: '1h' });
    const t = minted.auth.client_token as string;
    const accessor = minted.auth.accessor as string;
    assert.equal(await statusOf(client(t).tokenLookupSelf()), 200);
    const earlier = await db.copyOf('tokens', 'accessor', accessor);
    await client(rootToken).tokenRevoke({ token: t });
    assert.equal(await statusOf(client(t).tokenLookupSelf()), 403, 'revoked');
    const seq = await db.lastSeq();
    await db.putBack('tokens', 'accessor', earlier);
    assert.deepEqual((await call('GET', 'auth/token/lookup-self', t)).body, REFUSED);
    assert.deepEqual((await call('POST', 'auth/token/lookup-accessor', rootToken, { accessor })).body, REFUSED);
    assert.equal(await db.refusedAudits('auth/token/lookup-self', seq), 1);
  });

  it('refuses a child token put back after its parent was revoked', async () => {
    const parent = (await client(rootToken).tokenCreate({ policies: ['root'], ttl: '1h' })).auth.client_token as string;
    const child = await client(parent).tokenCreate({ policies: ['default'], ttl: '1h' });
    const earlier = await db.copyOf('tokens', 'accessor', child.auth.accessor as string);
    await client(rootToken).tokenRevoke({ token: parent });
    await db.putBack('tokens', 'accessor', { ...earlier, parent_accessor: null, orphan: true });
    // Made an orphan, its MAC no longer fits; as it was, it is a revoked row.
    assert.deepEqual((await call('GET', 'auth/token/lookup-self', child.auth.client_token as string)).body, REFUSED);
    await db.putBack('tokens', 'accessor', earlier);
    assert.deepEqual((await call('GET', 'auth/token/lookup-self', child.auth.client_token as string)).body, REFUSED);
  });

  it('refuses a policy rolled back to an earlier valid version, and a deleted policy put back', async () => {
    const wideRules = 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }';
    await client(rootToken).addPolicy({ name: 'shrinking', rules: wideRules });
    const token = (await client(rootToken).tokenCreate({ policies: ['shrinking'], ttl: '1h' })).auth.client_token as string;
    assert.equal((await call('POST', 'secret/data/shrinking/a', token, { data: { v: 1 } })).status, 200);
    const wide = await db.copyOf('policies', 'name', 'shrinking');
    await client(rootToken).addPolicy({ name: 'shrinking', rules: 'path "secret/data/shrinking/a" { capabilities = ["read"] }' });
    assert.equal((await call('POST', 'secret/data/shrinking/a', token, { data: { v: 2 } })).status, 403, 'narrowed');
    assert.equal((await call('GET', 'secret/data/shrinking/a', token)).status, 200);
    const before = await db.failures('policies');
    const seq = await db.lastSeq();
    await db.putBack('policies', 'name', wide);
    // Read directly, the row is refused at once.
    assert.deepEqual((await call('GET', 'sys/policies/acl/shrinking', rootToken)).body, REFUSED);
    assert.equal(await db.refusedAudits('sys/policies/acl/shrinking', seq), 1);
    // A request under the policy is refused once the api's ACL cache (1 s) lets go of the
    // narrowed rules it holds; never are the wider rules applied.
    await waitUntil('the rolled-back policy to be refused', async () => (await call('GET', 'secret/data/shrinking/a', token)).status === 403);
    assert.deepEqual((await call('GET', 'secret/data/shrinking/a', token)).body, REFUSED);
    assert.deepEqual((await call('POST', 'secret/data/shrinking/a', token, { data: { v: 3 } })).body, REFUSED);
    assert.ok((await db.refusedAudits('secret/data/shrinking/a', seq)) >= 1);
    // Deleted through the API, then put back by the writer.
    await call('DELETE', 'sys/policies/acl/shrinking', rootToken);
    await db.putBack('policies', 'name', wide);
    assert.deepEqual((await call('GET', 'sys/policies/acl/shrinking', rootToken)).body, REFUSED);
    assert.ok((await db.failures('policies')) - before >= 3);
    // Written again through the API, the policy goes on above every earlier seq and is served.
    await db.q(sql`delete from vault.policies where name = 'shrinking'`);
    await client(rootToken).addPolicy({ name: 'shrinking', rules: wideRules });
    assert.equal((await call('GET', 'sys/policies/acl/shrinking', rootToken)).status, 200);
    await waitUntil('the policy written again to be served', async () => (await call('POST', 'secret/data/shrinking/a', token, { data: { v: 4 } })).status === 200);
  });

  it('accepts a policy the vault deleted and wrote again, and concurrent writes of one policy', async () => {
    const rules = (n: number) => `path "secret/data/p${n}" { capabilities = ["read"] }`;
    await client(rootToken).addPolicy({ name: 'again', rules: rules(0) });
    assert.equal((await call('GET', 'sys/policies/acl/again', rootToken)).status, 200);
    await call('DELETE', 'sys/policies/acl/again', rootToken);
    await client(rootToken).addPolicy({ name: 'again', rules: rules(1) });
    assert.equal((await call('GET', 'sys/policies/acl/again', rootToken)).status, 200);
    const writes = Array.from({ length: 20 }, (_, i) => call('PUT', 'sys/policies/acl/again', rootToken, { policy: rules(i + 2) }));
    const reads = Array.from({ length: 20 }, () => call('GET', 'sys/policies/acl/again', rootToken));
    for (const r of await Promise.all([...writes, ...reads])) assert.ok(r.status === 204 || r.status === 200, JSON.stringify(r));
    assert.equal((await call('GET', 'sys/policies/acl/again', rootToken)).status, 200);
  });

  it('refuses a token role rolled back to the policies it allowed before', async () => {
    await call('POST', 'auth/token/roles/shrinking-role', rootToken, { allowed_policies: ['admin'] });
    const earlier = await db.copyOf('token_roles', 'name', 'shrinking-role');
    await call('POST', 'auth/token/roles/shrinking-role', rootToken, { allowed_policies: ['reader'] });
    assert.equal((await call('GET', 'auth/token/roles/shrinking-role', rootToken)).status, 200);
    const before = await db.failures('token_roles');
    await db.putBack('token_roles', 'name', earlier);
    const res = await call('POST', 'auth/token/create/shrinking-role', rootToken, { policies: ['admin'] });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal((await db.failures('token_roles')) - before, 1);
  });

  it('refuses an AppRole secret id put back with the uses it had before a login', async () => {
    await call('POST', 'sys/auth/approle', rootToken, { type: 'approle' });
    await call('POST', 'auth/approle/role/limited', rootToken, { secret_id_num_uses: 2, token_policies: ['default'] });
    const roleId = (await call('GET', 'auth/approle/role/limited/role-id', rootToken)).body.data.role_id as string;
    const issued = (await call('POST', 'auth/approle/role/limited/secret-id', rootToken)).body.data;
    const earlier = await db.copyOf('approle_secret_ids', 'accessor', issued.secret_id_accessor as string);
    const login = () => call('POST', 'auth/approle/login', '', { role_id: roleId, secret_id: issued.secret_id });
    assert.equal((await login()).status, 200, 'the first of two uses');
    const before = await db.failures('approle_secret_ids');
    await db.putBack('approle_secret_ids', 'accessor', earlier);
    const res = await login();
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, REFUSED);
    assert.equal((await db.failures('approle_secret_ids')) - before, 1);
  });
});
