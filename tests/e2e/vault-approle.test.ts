// AppRole end to end on real PostgreSQL through node-vault (addApproleRole, getApproleRoleId,
// getApproleRoleSecret, approleSecretLookup/Destroy/Accessor*, approleLogin; lists and
// the fields node-vault does not send go with the `vault` CLI's HTTP shapes): secret ids with
// metadata, TTL, use counts and CIDR lists; role-id-only roles bound to CIDRs; and the
// attacker's attempts (a wrong secret id, a single-use secret id spent by many logins at once,
// a login from outside the bound CIDRs, a forged or re-pointed row written into the database).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, statusOf as status, type VaultServer } from './vault-server.js';

/** vault-api's token cache bound in this file (ms). */
const TOKEN_CACHE_MS = 300;

describe('auth/approle', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let admin: ReturnType<typeof nodeVault>;
  const client = () => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as Record<string, any> };
  };

  /** Generates a secret id with the `vault` CLI's call shape (node-vault sends only metadata and cidr_list). */
  const secretId = async (role: string, body: Record<string, unknown> = {}) => {
    const r = await post(`auth/approle/role/${role}/secret-id`, body, admin.token!);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { data: { secret_id: string; secret_id_accessor: string; secret_id_ttl: number; secret_id_num_uses: number } };
  };
  /** Writes a role with the `vault` CLI's call shape (node-vault's addApproleRole omits token_policies and the CIDR fields). */
  const writeRole = async (role: string, body: Record<string, unknown>) => {
    const r = await post(`auth/approle/role/${role}`, body, admin.token!);
    assert.equal(r.status, 204, JSON.stringify(r.body));
  };

  /** A list as the `vault` CLI sends it (GET ?list=true): Node's HTTP parser refuses node-vault's LIST verb. */
  const list = async (path: string) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}?list=true`, { headers: { 'x-vault-token': admin.token! } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { data: { keys: string[] } }).data.keys;
  };

  before(async () => {
    tdb = await createTestDatabase();
    // A short token cache: a token row changed in the database, not through the api, is seen
    // within this bound.
    vs = await startVaultServer(tdb.database, { VAULT_TOKEN_CACHE_MS: String(TOKEN_CACHE_MS) });
    admin = client();
    const init = await admin.init({ secret_shares: 1, secret_threshold: 1 });
    admin.token = init.root_token;
    await admin.unseal({ key: init.keys[0] });
    await admin.write('sys/policies/acl/billing', { policy: 'path "secret/data/billing/*" { capabilities = ["read", "create", "update"] }' });
    await admin.write('secret/data/billing/stripe', { data: { key: 'sk_live_1' } });
    await admin.addApproleRole({ role_name: 'billing', policies: 'billing', token_ttl: 900, token_max_ttl: 3600, secret_id_ttl: 600, secret_id_num_uses: 5 });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('logs in with role_id + secret_id; the token carries the role policies, TTL and the secret id metadata', async () => {
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    assert.match(roleId, /^[0-9a-f-]{36}$/);
    const gen = await secretId('billing', { metadata: JSON.stringify({ app: 'invoicer' }), num_uses: 2, ttl: 300 });
    assert.equal(gen.data.secret_id_num_uses, 2);
    assert.equal(gen.data.secret_id_ttl, 300);
    const app = client();
    const login = await app.approleLogin({ role_id: roleId, secret_id: gen.data.secret_id });
    assert.deepEqual(login.auth.token_policies, ['billing']);
    assert.deepEqual(login.auth.policies, ['billing', 'default']);
    assert.equal(login.auth.lease_duration, 900);
    assert.deepEqual(login.auth.metadata, { app: 'invoicer', role_name: 'billing' });
    assert.equal(app.token, login.auth.client_token);
    assert.equal((await app.read('secret/data/billing/stripe')).data.data.key, 'sk_live_1');
    assert.equal(await status(app.read('secret/data/other')), 403);
    const self = await app.tokenLookupSelf();
    assert.equal(self.data.path, 'auth/approle/login');
    assert.equal(self.data.display_name, 'approle');

    // One use left of two.
    const looked = await admin.approleSecretLookup({ role_name: 'billing', secret_id: gen.data.secret_id });
    assert.equal(looked.data.secret_id_num_uses, 1);
    assert.deepEqual(looked.data.metadata, { app: 'invoicer' });
    assert.equal(looked.data.secret_id_accessor, gen.data.secret_id_accessor);
    await client().approleLogin({ role_id: roleId, secret_id: gen.data.secret_id });
    // Used up: gone.
    assert.equal(await status(client().approleLogin({ role_id: roleId, secret_id: gen.data.secret_id })), 400);
    assert.equal(await status(admin.approleSecretLookup({ role_name: 'billing', secret_id: gen.data.secret_id })), 404);
  });

  it('answers Vault\'s 400 "invalid role or secret ID" for a wrong secret id or role id, and 400 for a missing secret id', async () => {
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    const wrong = await post('auth/approle/login', { role_id: roleId, secret_id: '00000000-0000-0000-0000-000000000000' });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, { errors: ['invalid role or secret ID'] });
    const gen = await admin.getApproleRoleSecret({ role_name: 'billing' });
    const otherRole = await post('auth/approle/login', { role_id: 'not-a-role', secret_id: gen.data.secret_id });
    assert.deepEqual(otherRole, { status: 400, body: { errors: ['invalid role or secret ID'] } });
    assert.equal((await post('auth/approle/login', { role_id: roleId })).status, 400);
    assert.equal((await post('auth/approle/login', { role_id: roleId, secret_id: 42 })).status, 400);
    // A secret id of one role does not log into another.
    await admin.addApproleRole({ role_name: 'other', policies: 'default' });
    const otherId = (await admin.getApproleRoleId({ role_name: 'other' })).data.role_id as string;
    assert.equal((await post('auth/approle/login', { role_id: otherId, secret_id: gen.data.secret_id })).status, 400);
  });

  it('spends a single-use secret id exactly once under 20 concurrent logins', async () => {
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    const gen = await secretId('billing', { num_uses: 1 });
    const results = await Promise.all(Array.from({ length: 20 }, () => post('auth/approle/login', { role_id: roleId, secret_id: gen.data.secret_id })));
    assert.equal(results.filter((r) => r.status === 200).length, 1);
    assert.equal(results.filter((r) => r.status === 400).length, 19);
    const triple = await secretId('billing', { num_uses: 3 });
    const more = await Promise.all(Array.from({ length: 12 }, () => post('auth/approle/login', { role_id: roleId, secret_id: triple.data.secret_id })));
    assert.equal(more.filter((r) => r.status === 200).length, 3);
    // No more uses were granted than counted: the row is gone.
    const [{ n }] = (await tdb.database.db.execute(sql`select count(*)::int as n from vault.approle_secret_ids where accessor = ${triple.data.secret_id_accessor}`)) as unknown as [{ n: number }];
    assert.equal(n, 0);
  });

  it('refuses a secret id past its TTL and bounds num_uses and ttl by the role', async () => {
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    const gen = await admin.getApproleRoleSecret({ role_name: 'billing' });
    const short = await secretId('billing', { ttl: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await post('auth/approle/login', { role_id: roleId, secret_id: short.data.secret_id })).status, 400);
    assert.equal((await post('auth/approle/login', { role_id: roleId, secret_id: gen.data.secret_id })).status, 200);
    assert.equal((await post('auth/approle/role/billing/secret-id', { num_uses: 6 }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/billing/secret-id', { num_uses: 0 }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/billing/secret-id', { ttl: '11m' }, admin.token)).status, 400);
  });

  it('binds secret ids and tokens to CIDR blocks, checked against the caller\'s address', async () => {
    await admin.addApproleRole({ role_name: 'ci', policies: 'billing', bound_cidr_list: '127.0.0.0/8,10.0.0.0/8' });
    const roleId = (await admin.getApproleRoleId({ role_name: 'ci' })).data.role_id as string;
    // The test reaches the vault from 127.0.0.1.
    const inside = await secretId('ci', { cidr_list: ['127.0.0.1/32'] });
    assert.equal((await post('auth/approle/login', { role_id: roleId, secret_id: inside.data.secret_id })).status, 200);
    const outside = await secretId('ci', { cidr_list: ['10.1.0.0/16'] });
    const refused = await post('auth/approle/login', { role_id: roleId, secret_id: outside.data.secret_id });
    assert.equal(refused.status, 403);
    assert.match(refused.body.errors[0], /CIDR/);
    // A cidr_list wider than the role's binding is refused at generation.
    assert.equal((await post('auth/approle/role/ci/secret-id', { cidr_list: '192.168.0.0/16' }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/ci/secret-id', { cidr_list: 'not-a-cidr' }, admin.token)).status, 400);
    // The refused login spent nothing: the secret id is still there.
    assert.equal((await admin.approleSecretAccessorLookup({ role_name: 'ci', secret_id_accessor: outside.data.secret_id_accessor })).data.secret_id_num_uses, 0);

    // A token bound to 10.0.0.0/8 is refused from 127.0.0.1 after login (and at login).
    await writeRole('bound', { token_policies: ['billing'], token_bound_cidrs: ['10.0.0.0/8'] });
    const boundId = (await admin.getApproleRoleId({ role_name: 'bound' })).data.role_id as string;
    const s = await admin.getApproleRoleSecret({ role_name: 'bound' });
    assert.equal((await post('auth/approle/login', { role_id: boundId, secret_id: s.data.secret_id })).status, 403);
    await writeRole('bound', { token_bound_cidrs: ['127.0.0.0/8'] });
    const login = await post('auth/approle/login', { role_id: boundId, secret_id: s.data.secret_id });
    assert.equal(login.status, 200);
    const token = login.body.auth.client_token as string;
    const read = await fetch(`${vs.baseUrl}/vault/v1/secret/data/billing/stripe`, { headers: { 'x-vault-token': token } });
    assert.equal(read.status, 200);
    // The same token row, rebound by the operator to elsewhere, stops working from here once
    // the api's token cache has let go of it (VAULT_TOKEN_CACHE_MS).
    await tdb.database.db.execute(sql`update vault.tokens set bound_cidrs = '{10.0.0.0/8}' where accessor = ${login.body.auth.accessor}`);
    await new Promise((r) => setTimeout(r, TOKEN_CACHE_MS + 5));
    assert.equal((await fetch(`${vs.baseUrl}/vault/v1/secret/data/billing/stripe`, { headers: { 'x-vault-token': token } })).status, 403);
  });

  it('logs in with a role id alone when bind_secret_id is false and the role is bound to CIDRs', async () => {
    assert.equal(await status(admin.addApproleRole({ role_name: 'loose', bind_secret_id: false, policies: 'billing' })), 400);
    await writeRole('loose', { bind_secret_id: false, secret_id_bound_cidrs: ['127.0.0.1/32'], token_policies: ['billing'] });
    const roleId = (await admin.getApproleRoleId({ role_name: 'loose' })).data.role_id as string;
    assert.equal((await post('auth/approle/login', { role_id: roleId })).status, 200);
    await writeRole('loose', { secret_id_bound_cidrs: ['10.0.0.0/8'] });
    assert.equal((await post('auth/approle/login', { role_id: roleId })).status, 403);
  });

  it('sets a custom role id and secret id, lists and destroys secret ids by value and by accessor', async () => {
    await admin.addApproleRole({ role_name: 'custom', policies: 'billing' });
    await admin.updateApproleRoleId({ role_name: 'custom', role_id: 'custom-role-id' });
    assert.equal((await admin.getApproleRoleId({ role_name: 'custom' })).data.role_id, 'custom-role-id');
    // Another role cannot take the same role id.
    assert.equal((await post('auth/approle/role/other/role-id', { role_id: 'custom-role-id' }, admin.token)).status, 400);
    const custom = await post('auth/approle/role/custom/custom-secret-id', { secret_id: 'my-chosen-secret-1' }, admin.token);
    assert.equal(custom.status, 200);
    assert.equal(custom.body.data.secret_id, 'my-chosen-secret-1');
    assert.equal((await post('auth/approle/role/custom/custom-secret-id', { secret_id: 'my-chosen-secret-1' }, admin.token)).status, 400);
    const second = await admin.getApproleRoleSecret({ role_name: 'custom' });
    const keys = await list('auth/approle/role/custom/secret-id');
    assert.deepEqual([...keys].sort(), [custom.body.data.secret_id_accessor, second.data.secret_id_accessor].sort());
    assert.equal((await post('auth/approle/login', { role_id: 'custom-role-id', secret_id: 'my-chosen-secret-1' })).status, 200);
    await admin.approleSecretDestroy({ role_name: 'custom', secret_id: 'my-chosen-secret-1' });
    assert.equal((await post('auth/approle/login', { role_id: 'custom-role-id', secret_id: 'my-chosen-secret-1' })).status, 400);
    await admin.approleSecretAccessorDestroy({ role_name: 'custom', secret_id_accessor: second.data.secret_id_accessor });
    assert.equal((await post('auth/approle/login', { role_id: 'custom-role-id', secret_id: second.data.secret_id })).status, 400);
    // Reading and listing roles; deleting one removes its secret ids.
    const role = await admin.getApproleRole({ role_name: 'custom' });
    assert.deepEqual(role.data.token_policies, ['billing']);
    assert.equal(role.data.bind_secret_id, true);
    const third = await admin.getApproleRoleSecret({ role_name: 'custom' });
    await admin.deleteApproleRole({ role_name: 'custom' });
    assert.equal(await status(admin.getApproleRole({ role_name: 'custom' })), 404);
    const [{ n }] = (await tdb.database.db.execute(sql`select count(*)::int as n from vault.approle_secret_ids where accessor = ${third.data.secret_id_accessor}`)) as unknown as [{ n: number }];
    assert.equal(n, 0);
    assert.ok((await list('auth/approle/role')).includes('billing'));
  });

  it('stores secret ids only as keyed hashes', async () => {
    const gen = await admin.getApproleRoleSecret({ role_name: 'billing' });
    const rows = (await tdb.database.db.execute(sql`select * from vault.approle_secret_ids`)) as unknown as Record<string, unknown>[];
    const dump = JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]))));
    assert.ok(!dump.includes(gen.data.secret_id));
    assert.ok(!dump.includes(Buffer.from(gen.data.secret_id).toString('hex')));
  });

  it('refuses rows a database writer forged or changed: a role granting root-like policies, a secret id with more uses, a secret id moved to another role', async () => {
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    const gen = await secretId('billing', { num_uses: 1 });
    const db = tdb.database.db;
    // More uses than issued.
    await db.execute(sql`update vault.approle_secret_ids set num_uses = 1000 where accessor = ${gen.data.secret_id_accessor}`);
    const forgedUses = await post('auth/approle/login', { role_id: roleId, secret_id: gen.data.secret_id });
    assert.deepEqual(forgedUses, { status: 403, body: { errors: ['integrity check failed'] } });
    // A role's policies widened in place.
    await db.execute(sql`update vault.approle_roles set settings = jsonb_set(settings, '{token_policies}', '["billing","admin"]') where name = 'billing'`);
    const gen2Status = await post('auth/approle/role/billing/secret-id', {}, admin.token);
    assert.equal(gen2Status.status, 403);
    assert.equal((await post('auth/approle/login', { role_id: roleId, secret_id: 'anything' })).status, 403);
    // Put the role back as the operator would: rewrite it through the API.
    await db.execute(sql`delete from vault.approle_roles where name = 'billing'`);
    await admin.addApproleRole({ role_name: 'billing', policies: 'billing', secret_id_num_uses: 5, secret_id_ttl: 600 });
    await admin.updateApproleRoleId({ role_name: 'billing', role_id: roleId });
    // A secret id of `other` re-pointed at `billing` does not authenticate.
    const foreign = await admin.getApproleRoleSecret({ role_name: 'other' });
    await db.execute(sql`update vault.approle_secret_ids set role_name = 'billing' where accessor = ${foreign.data.secret_id_accessor}`);
    assert.equal((await post('auth/approle/login', { role_id: roleId, secret_id: foreign.data.secret_id })).status, 400);
    // An inserted row with a made-up MAC.
    await db.execute(sql`insert into vault.approle_roles (name, role_id, settings, mac) values ('evil', 'evil-id', '{"bind_secret_id": false, "token_policies": ["billing"], "secret_id_bound_cidrs": ["127.0.0.0/8"]}', '\\x00')`);
    assert.deepEqual(await post('auth/approle/login', { role_id: 'evil-id' }), { status: 403, body: { errors: ['integrity check failed'] } });
  });

  it('keeps role and secret-id management behind the ACL and refuses hostile bodies', async () => {
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    const gen = await admin.getApproleRoleSecret({ role_name: 'billing' });
    const app = await post('auth/approle/login', { role_id: roleId, secret_id: gen.data.secret_id });
    const token = app.body.auth.client_token as string;
    assert.equal((await post('auth/approle/role/billing', { token_policies: ['root'] }, token)).status, 403);
    assert.equal((await post('auth/approle/role/billing/secret-id', {}, token)).status, 403);
    assert.equal((await post('auth/approle/role/x', { token_policies: ['root'] }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/billing/secret-id', { metadata: '{not json' }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/billing/secret-id', { metadata: { a: 1 } }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/bad%20name', {}, admin.token)).status, 400);
    assert.equal((await post('auth/approle/role/billing', { token_ttl: 'forever' }, admin.token)).status, 400);
    assert.equal((await post('auth/approle/login', { role_id: 'x'.repeat(5000), secret_id: 'y' })).status, 400);
    assert.equal((await post('auth/approle/login', {})).status, 400);
  });

  it('lists the enabled auth methods at sys/auth in Vault\'s shape (node-vault auths), and refuses to enable or disable one', async () => {
    const auths = await admin.auths();
    for (const m of ['token/', 'kubernetes/', 'approle/', 'userpass/', 'jwt/']) {
      assert.equal(auths.data[m].type, m.slice(0, -1), m);
      assert.match(auths.data[m].accessor, new RegExp(`^auth_${m.slice(0, -1)}_[0-9a-f]{8}$`));
      assert.equal(auths[m].type, m.slice(0, -1), `${m} at the top level`);
    }
    assert.equal(Object.keys(auths.data).length, 5);
    assert.equal((await admin.auths()).data['approle/'].accessor, auths.data['approle/'].accessor);
    assert.equal(await status(admin.enableAuth({ mount_point: 'approle', type: 'approle' })), 400);
    assert.equal(await status(admin.disableAuth({ mount_point: 'userpass' })), 400);
    // A token without a policy on sys/auth may not list them.
    const roleId = (await admin.getApproleRoleId({ role_name: 'billing' })).data.role_id as string;
    const app = await post('auth/approle/login', { role_id: roleId, secret_id: (await admin.getApproleRoleSecret({ role_name: 'billing' })).data.secret_id });
    const res = await fetch(`${vs.baseUrl}/vault/v1/sys/auth`, { headers: { 'x-vault-token': app.body.auth.client_token } });
    assert.equal(res.status, 403);
  });
});

