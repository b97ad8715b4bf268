// Token roles and periodic tokens on real PostgreSQL, with node-vault where it has the call and the
// vault CLI's HTTP shapes otherwise: role CRUD, auth/token/create/:role applying the role's rules
// as Vault does, periodic renewal without a max TTL unless an explicit one is set, hostile input,
// and role rows a database writer forged refused.
// @see https://developer.hashicorp.com/vault/api-docs/auth/token#create-update-token-role
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import type { RowMac } from '#functions/vault/core/integrity';
import { operatorRowMac, resignToken, startVaultServer, type VaultServer } from './vault-server.js';

type Body = Record<string, unknown> & { errors?: string[]; data?: Record<string, unknown>; warnings?: string[] | null; auth?: Auth };
type Auth = { client_token: string; accessor: string; policies: string[]; lease_duration: number; renewable: boolean; orphan: boolean };

describe('ZenoVault token roles and periodic tokens', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let operatorMac: RowMac;
  /** A token that may create tokens under any role, holding `app-read` itself. */
  let creator: string;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  const call = async (method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: token ? { 'x-vault-token': token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Body) : {} };
  };
  const created = async (role: string, token: string, body: Record<string, unknown> = {}): Promise<Body & { auth: Auth }> => {
    const r = await call('POST', `auth/token/create/${role}`, token, body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as Body & { auth: Auth };
  };
  const refused = async (path: string, token: string, body: unknown, message: string) =>
    assert.deepEqual(await call('POST', path, token, body), { status: 400, body: { errors: [message] } }, `${path} ${JSON.stringify(body)}`);
  /** Ages a token as a long wait would, re-signed as the vault would (rows carry a MAC). */
  const age = async (accessor: string, interval: string) => {
    await tdb.database.query(sql`update vault.tokens set created_at = date_trunc('milliseconds', now() - ${interval}::interval) where accessor = ${accessor}`);
    await resignToken(tdb.database, operatorMac, accessor);
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    root = init.root_token;
    await client().unseal({ key: init.keys[0] });
    operatorMac = await operatorRowMac(tdb.database, init.keys);
    const admin = client(root);
    await admin.write('sys/policies/acl/role-user', { policy: 'path "auth/token/create/*" { capabilities = ["update"] }\npath "auth/token/create" { capabilities = ["update"] }' });
    for (const p of ['app-read', 'app-write', 'secret-admin']) await admin.write(`sys/policies/acl/${p}`, { policy: `path "secret/data/${p}" { capabilities = ["read"] }` });
    creator = (await admin.tokenCreate({ policies: ['role-user', 'app-read', 'secret-admin'] })).auth.client_token;
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  describe('role CRUD', () => {
    it('creates, reads, lists, updates in part and deletes a role with node-vault', async () => {
      const admin = client(root);
      await admin.addTokenRole({ role_name: 'crud', allowed_policies: 'app-read, app-write', orphan: true, period: 3600, path_suffix: 'v1', renewable: true });
      const read = await admin.getTokenRole({ role_name: 'crud' });
      assert.deepEqual(
        {
          name: read.data.name,
          allowed_policies: read.data.allowed_policies,
          disallowed_policies: read.data.disallowed_policies,
          orphan: read.data.orphan,
          renewable: read.data.renewable,
          path_suffix: read.data.path_suffix,
          token_period: read.data.token_period,
          token_explicit_max_ttl: read.data.token_explicit_max_ttl,
          token_type: read.data.token_type,
        },
        { name: 'crud', allowed_policies: ['app-read', 'app-write'], disallowed_policies: [], orphan: true, renewable: true, path_suffix: 'v1', token_period: 3600, token_explicit_max_ttl: 0, token_type: 'default-service' },
      );
      assert.deepEqual((await admin.tokenRoles()).data.keys, ['crud']);
      // A write changes only what it gives (the vault CLI's `vault write auth/token/roles/crud renewable=false`).
      assert.equal((await call('POST', 'auth/token/roles/crud', root, { renewable: 'false', token_explicit_max_ttl: '2h' })).status, 204);
      const after = (await admin.getTokenRole({ role_name: 'crud' })).data;
      assert.equal(after.renewable, false);
      assert.equal(after.token_explicit_max_ttl, 7200);
      assert.equal(after.orphan, true);
      assert.deepEqual(after.allowed_policies, ['app-read', 'app-write']);
      await admin.removeTokenRole({ role_name: 'crud' });
      assert.equal((await call('GET', 'auth/token/roles/crud', root)).status, 404);
      assert.equal((await call('GET', 'auth/token/roles?list=true', root)).status, 404);
    });

    it('refuses hostile and unsupported role settings with a 400, storing nothing', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ allowed_entity_aliases: ['alias-a'] }, 'allowed_entity_aliases is not supported by this vault'],
        [{ allowed_policies_glob: 'app-*' }, 'allowed_policies_glob is not supported by this vault'],
        [{ token_bound_cidrs: ['10.0.0.0/8'] }, 'token_bound_cidrs is not supported by this vault'],
        [{ token_type: 'batch' }, 'token_type "batch" is not supported: only service tokens are'],
        [{ path_suffix: '../../sys' }, 'error registering path suffix: path cannot contain parent references'],
        [{ path_suffix: 'a b' }, 'invalid path_suffix'],
        [{ token_period: '-1h' }, 'invalid token_period: a non-negative duration is required'],
        [{ token_period: 'forever' }, 'invalid token_period: a non-negative duration is required'],
        [{ period: '1000h' }, 'period must not exceed the system max TTL of 2764800s'],
        [{ token_explicit_max_ttl: '1e9' }, 'invalid token_explicit_max_ttl: a non-negative duration is required'],
        [{ token_num_uses: -1 }, 'token_num_uses cannot be negative'],
        [{ token_num_uses: 2 ** 40 }, 'token_num_uses must be an integer'],
        [{ allowed_policies: 'ok, not ok' }, 'allowed_policies must be a list of policy names'],
        [{ allowed_policies: 42 }, 'allowed_policies must be a list of strings'],
        [{ orphan: 'maybe' }, 'orphan must be a boolean'],
      ];
      for (const [body, message] of cases) await refused('auth/token/roles/hostile', root, body, message);
      await refused('auth/token/roles/bad%20name', root, {}, 'invalid role name');
      const [n] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.token_roles`);
      assert.equal(n!.n, 0);
    });
  });

  describe('auth/token/create/:role', () => {
    it('gives the requested subset of the allowed policies, else all of them, and refuses others', async () => {
      await client(root).addTokenRole({ role_name: 'apps', allowed_policies: 'app-read,app-write' });
      // The role's allowed policies, not the parent's: the creator lacks app-write.
      const all = await created('apps', creator);
      assert.deepEqual(all.auth.policies, ['app-read', 'app-write', 'default']);
      const some = await client(creator).tokenCreateRole({ role_name: 'apps', policies: ['app-read'] });
      assert.deepEqual(some.auth.policies, ['app-read', 'default']);
      await refused('auth/token/create/apps', creator, { policies: ['secret-admin'] }, "token policies ([default secret-admin]) must be subset of the role's allowed policies ([app-read app-write default])");
      await refused('auth/token/create/apps', creator, { policies: ['root'] }, "token policies ([root]) must be subset of the role's allowed policies ([app-read app-write default])");
      await refused('auth/token/create/nope', creator, {}, 'unknown role nope');
      const self = (await call('GET', 'auth/token/lookup-self', all.auth.client_token)).body.data!;
      assert.equal(self.path, 'auth/token/create/apps');
      assert.equal(self.role, 'apps');
    });

    it('refuses disallowed policies and, without allowed ones, anything beyond the parent', async () => {
      await client(root).addTokenRole({ role_name: 'limited', disallowed_policies: 'secret-admin' });
      await refused('auth/token/create/limited', creator, { policies: ['secret-admin'] }, 'token policy "secret-admin" is disallowed by this role');
      await refused('auth/token/create/limited', creator, {}, 'token policy "secret-admin" is disallowed by this role');
      await refused('auth/token/create/limited', creator, { policies: ['app-write'] }, 'child policies must be subset of parent when role contains no allowed_policies');
      assert.deepEqual((await created('limited', creator, { policies: ['app-read'] })).auth.policies, ['app-read', 'default']);
      // Disallowing default keeps it off the token.
      await call('POST', 'auth/token/roles/nodefault', root, { allowed_policies: 'app-read', disallowed_policies: 'default' });
      assert.deepEqual((await created('nodefault', creator)).auth.policies, ['app-read']);
      // A root-only role serves no one but a root parent.
      await call('POST', 'auth/token/roles/rooty', root, { allowed_policies: 'root' });
      await refused('auth/token/create/rooty', creator, {}, 'root tokens may not be created without parent token being root');
    });

    it('makes orphans for an orphan role without sudo, and applies renewable, suffix and num_uses', async () => {
      await call('POST', 'auth/token/roles/orphans', root, { allowed_policies: 'app-read', orphan: true, renewable: false, path_suffix: 'v2', token_num_uses: 3 });
      const t = await created('orphans', creator, { no_parent: false, num_uses: 10 });
      assert.equal(t.auth.orphan, true);
      assert.equal(t.auth.renewable, false);
      const self = (await call('GET', 'auth/token/lookup-self', t.auth.client_token)).body.data!;
      assert.equal(self.path, 'auth/token/create/orphans/v2');
      assert.equal(self.num_uses, 2);
      // Revoking the creator leaves the orphan.
      const parent = (await client(root).tokenCreate({ policies: ['role-user', 'app-read'] })).auth.client_token;
      const child = await created('orphans', parent);
      await client(root).tokenRevoke({ token: parent });
      assert.equal((await call('GET', 'auth/token/lookup-self', child.auth.client_token)).status, 200);
      // Without a role, an orphan still needs sudo.
      await refused('auth/token/create', creator, { no_parent: true, policies: ['app-read'] }, 'root or sudo privileges required to create orphan token');
    });

    it('refuses a role row a database writer altered or inserted (403, audited)', async () => {
      await client(root).addTokenRole({ role_name: 'forged', allowed_policies: 'app-read' });
      await tdb.database.query(sql`update vault.token_roles set allowed_policies = '{secret-admin,app-write}' where name = 'forged'`);
      const forged = { status: 403, body: { errors: ['integrity check failed'] } };
      assert.deepEqual(await call('POST', 'auth/token/create/forged', creator, { policies: ['app-write'] }), forged);
      assert.deepEqual(await call('GET', 'auth/token/roles/forged', root), forged);
      await tdb.database.query(sql`
        insert into vault.token_roles (name, allowed_policies, disallowed_policies, orphan, renewable, path_suffix,
          token_period_seconds, token_explicit_max_ttl_seconds, token_no_default_policy, token_num_uses, mac)
        select 'planted', '{root}', '{}', true, true, '', 0, 0, false, 0, mac from vault.token_roles where name = 'apps'`);
      assert.deepEqual(await call('POST', 'auth/token/create/planted', root, {}), forged);
      const [audited] = await tdb.database.query<{ n: number }>(
        sql`select count(*)::int as n from vault.audit_log where type = 'response' and error = 'integrity check failed' and path like 'auth/token/%'`,
      );
      assert.equal(audited!.n, 3);
      const [minted] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.tokens where role in ('forged', 'planted')`);
      assert.equal(minted!.n, 0);
    });
  });

  describe('periodic tokens', () => {
    it('renews a role-periodic token to its period whatever the increment, with no max TTL', async () => {
      await call('POST', 'auth/token/roles/periodic', root, { allowed_policies: 'app-read', token_period: '1h' });
      const t = await created('periodic', creator, { ttl: '10m' });
      assert.equal(t.auth.lease_duration, 3600);
      assert.equal(t.auth.renewable, true);
      // Created 900 hours ago: past the system max of 768h, which binds no periodic token.
      await age(t.auth.accessor, '900 hours');
      const renewed = await client(t.auth.client_token).tokenRenewSelf({ increment: '10h' });
      assert.ok(renewed.auth.lease_duration <= 3600 && renewed.auth.lease_duration >= 3590, String(renewed.auth.lease_duration));
      assert.equal(renewed.warnings, null);
      const self = await client(t.auth.client_token).tokenLookupSelf();
      assert.equal(self.data.period, 3600);
      assert.ok(self.data.ttl <= 3600 && self.data.ttl >= 3590);
      // A non-periodic token of the same age is past its max and dead.
      const plain = await client(root).tokenCreate({ policies: ['default'], ttl: '1h' });
      await age(plain.auth.accessor, '900 hours');
      const capped = await client(root).tokenRenew({ token: plain.auth.client_token, increment: '1h' });
      assert.equal(capped.auth.lease_duration, 0);
    });

    it('bounds a periodic token by its explicit max TTL', async () => {
      await call('POST', 'auth/token/roles/bounded', root, { allowed_policies: 'app-read', token_period: '1h', token_explicit_max_ttl: '2h' });
      const t = await created('bounded', creator);
      await age(t.auth.accessor, '2 hours - 60 seconds');
      const renewed = await call('POST', 'auth/token/renew-self', t.auth.client_token, {});
      assert.equal(renewed.status, 200);
      assert.ok(renewed.body.auth!.lease_duration <= 60, String(renewed.body.auth!.lease_duration));
      assert.match(renewed.body.warnings![0]!, /capped/);
      // The lesser period of role and request, with Vault's warning.
      const lesser = await call('POST', 'auth/token/create/bounded', root, { period: '30m' });
      assert.equal(lesser.body.auth!.lease_duration, 1800);
      assert.deepEqual(lesser.body.warnings, ['Period specified both during creation call and in role; using the lesser value of 1800 seconds']);
    });

    it('takes period on auth/token/create from root or sudo only, and refuses hostile periods', async () => {
      await refused('auth/token/create', creator, { policies: ['app-read'], period: '30m' }, 'root or sudo privileges required to create periodic token');
      const t = await call('POST', 'auth/token/create', root, { policies: ['app-read'], period: '30m' });
      assert.equal(t.status, 200);
      assert.equal(t.body.auth!.lease_duration, 1800);
      const self = (await call('GET', 'auth/token/lookup-self', t.body.auth!.client_token)).body.data!;
      assert.equal(self.period, 1800);
      for (const period of ['-1h', 'soon', '1e5', { h: 1 }]) await refused('auth/token/create', root, { period }, 'invalid period');
      await refused('auth/token/create', root, { period: '1000h' }, 'period must not exceed the system max TTL of 2764800s');
    });

    it('refuses to renew a token whose role was deleted', async () => {
      await call('POST', 'auth/token/roles/gone', root, { allowed_policies: 'app-read', token_period: '1h' });
      const t = await created('gone', creator);
      await client(root).removeTokenRole({ role_name: 'gone' });
      await refused('auth/token/renew-self', t.auth.client_token, {}, 'original token role (gone) could not be found, not renewing');
    });
  });
});
