// The database secrets engine and leases, with node-vault over real HTTP, against a target
// database of its own on the real PostgreSQL: dynamic credentials log in and stop existing after
// sys/leases/revoke, revoke-prefix and expiry; renewal stops at max_ttl; static roles rotate;
// hostile input is a 4xx that leaves nothing behind; a DB writer's forged rows are refused.
// The test server trusts loopback connections, so a password is checked against the SCRAM
// verifier PostgreSQL stores for the role (pg_authid), not by a password login.
// @see https://developer.hashicorp.com/vault/api-docs/secret/databases
// @see https://developer.hashicorp.com/vault/api-docs/system/leases
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import postgres from 'postgres';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, statusOf, type VaultServer } from './vault-server.js';

const SERVER = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const urlOf = (db: string, user?: string) => {
  const u = new URL(SERVER);
  u.pathname = `/${db}`;
  if (user !== undefined) {
    u.username = encodeURIComponent(user);
    u.password = '';
  }
  return u.toString();
};

/** Does `password` match the SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802 StoredKey)? */
function scramMatches(verifier: string | null, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier ?? '');
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), Number(m[1]), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return createHash('sha256').update(clientKey).digest().equals(Buffer.from(m[3]!, 'base64'));
}

type Creds = { lease_id: string; lease_duration: number; renewable: boolean; data: { username: string; password: string } };

describe('ZenoVault database secrets engine and leases', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let unsealKey: string;
  let admin: postgres.Sql;
  let target: postgres.Sql;
  const suffix = randomBytes(4).toString('hex');
  const targetDb = `zk_vdb_${suffix}`;
  const vaultAdmin = `zk_vadmin_${suffix}`;
  const client = (token = root) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  const raw = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${vs.baseUrl}/vault/v1/${path}`, { ...init, headers: { 'x-vault-token': init.token ?? root, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const roleExists = async (name: string) => (await admin`select 1 from pg_roles where rolname = ${name}`).length > 0;
  const verifier = async (name: string) => ((await admin`select rolpassword from pg_authid where rolname = ${name}`)[0]?.rolpassword as string | null) ?? null;
  const leaseRows = async (like: string) =>
    (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.leases where lease_id like ${like}`))[0]!.n;
  const loginAs = async (user: string) => {
    const s = postgres(urlOf(targetDb, user), { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const [row] = await s`select current_user as u, count(*)::int as n from items`;
      return row as { u: string; n: number };
    } finally {
      await s.end({ timeout: 1 });
    }
  };
  const tick = () =>
    fetch(`${vs.baseUrl}/_fn/vault-api/_events`, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': randomUUID(),
        'ce-source': '/test/schedule',
        'ce-type': 'io.zenokube.vault.leases.scheduled',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ schedule: '*/5 * * * *' }),
    });
  const connection = (extra: Record<string, unknown> = {}) => ({
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:5432/${targetDb}?sslmode=disable`,
    username: vaultAdmin,
    password: 'initial-admin-password',
    allowed_roles: '*',
    ...extra,
  });
  const READONLY = [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON items TO "{{name}}";`];

  before(async () => {
    tdb = await createTestDatabase();
    admin = postgres(SERVER, { max: 2, onnotice: () => {} });
    await admin.unsafe(`create database "${targetDb}"`);
    await admin.unsafe(`create role "${vaultAdmin}" with login superuser password 'initial-admin-password'`);
    target = postgres(urlOf(targetDb), { max: 2, onnotice: () => {} });
    await target`create table items (id int primary key)`;
    await target`insert into items values (1), (2), (3)`;
    vs = await startVaultServer(tdb.database);
    const init = await client('').init({ secret_shares: 1, secret_threshold: 1 });
    root = init.root_token;
    unsealKey = init.keys[0];
    await client('').unseal({ key: unsealKey });
    await client().write('database/config/pg', connection());
    await client().write('database/roles/ro', { db_name: 'pg', creation_statements: READONLY, default_ttl: '1h', max_ttl: '2h' });
  });

  after(async () => {
    await vs?.close();
    await target?.end({ timeout: 1 });
    if (admin) {
      // Roles are server-wide: drop only this file's (named with its suffix, or still leased here).
      const leased = tdb ? await tdb.database.query<{ u: string }>(sql`select revocation->>'username' as u from vault.leases`) : [];
      await admin.unsafe(`drop database if exists "${targetDb}" with (force)`);
      const named = await admin`select rolname from pg_roles where rolname like ${`%${suffix}%`}`;
      for (const name of new Set([...named.map((r) => String(r.rolname)), ...leased.map((r) => r.u)])) {
        await admin.unsafe(`drop role if exists "${name.replace(/"/g, '""')}"`).catch(() => {});
      }
      await admin.end({ timeout: 1 });
    }
    await tdb?.drop();
  });

  describe('dynamic credentials', () => {
    it('issues a user that logs in, with a lease in Vault shape and PostgreSQL expiry at the lease end', async () => {
      const creds: Creds = await client().read('database/creds/ro');
      assert.match(creds.lease_id, /^database\/creds\/ro\/[A-Za-z0-9_-]+$/);
      assert.equal(creds.renewable, true);
      assert.equal(creds.lease_duration, 3600);
      assert.match(creds.data.username, /^v-root-ro-[A-Za-z0-9]{20}-\d+$/);
      assert.deepEqual(await loginAs(creds.data.username), { u: creds.data.username, n: 3 });
      assert.ok(scramMatches(await verifier(creds.data.username), creds.data.password), 'the stored verifier is the issued password');
      const lookup = await client().write('sys/leases/lookup', { lease_id: creds.lease_id });
      assert.equal(lookup.data.id, creds.lease_id);
      assert.equal(lookup.data.renewable, true);
      assert.ok(lookup.data.ttl > 3500 && lookup.data.ttl <= 3600);
      const [pg] = await admin`select rolvaliduntil from pg_roles where rolname = ${creds.data.username}`;
      assert.equal(Math.floor((pg!.rolvaliduntil as Date).getTime() / 1000), Math.floor(Date.parse(lookup.data.expire_time) / 1000));
    });

    it('is governed by ACL: read on database/creds/<role>; create and update told apart on roles', async () => {
      await client().write('sys/policy/app', {
        policy: 'path "database/creds/ro" { capabilities = ["read"] }\npath "database/roles/*" { capabilities = ["create"] }',
      });
      const { auth } = await client().tokenCreate({ policies: ['app'] });
      const app = client(auth.client_token);
      const creds: Creds = await app.read('database/creds/ro');
      assert.match(creds.data.username, /^v-token-ro-/);
      assert.equal(await statusOf(app.read('database/creds/pfx')), 403);
      assert.equal(await statusOf(app.read('database/config/pg')), 403);
      assert.equal(await statusOf(app.write('database/roles/made-by-app', { db_name: 'pg', creation_statements: READONLY })), 200);
      assert.equal(await statusOf(app.write('database/roles/made-by-app', { db_name: 'pg', creation_statements: READONLY, default_ttl: '5m' })), 403);
      await client().revoke({ lease_id: creds.lease_id });
    });

    it('cannot log in after sys/leases/revoke, and the lease is gone', async () => {
      const creds: Creds = await client().read('database/creds/ro');
      assert.equal((await loginAs(creds.data.username)).n, 3);
      await client().revoke({ lease_id: creds.lease_id });
      assert.equal(await roleExists(creds.data.username), false);
      await assert.rejects(loginAs(creds.data.username), /does not exist/);
      assert.equal(await statusOf(client().write('sys/leases/lookup', { lease_id: creds.lease_id })), 400);
      // Revoking again is harmless (Vault answers 204 for an unknown lease).
      assert.equal(await statusOf(client().revoke({ lease_id: creds.lease_id })), 200);
    });

    it('renews within max_ttl, capping beyond it with Vault\'s warning, and moves VALID UNTIL', async () => {
      const creds: Creds = await client().read('database/creds/ro');
      const within = await client().write('sys/leases/renew', { lease_id: creds.lease_id, increment: '30m' });
      assert.equal(within.lease_id, creds.lease_id);
      assert.equal(within.lease_duration, 1800);
      assert.equal(within.warnings, null);
      const beyond = await client().write('sys/leases/renew', { lease_id: creds.lease_id, increment: '10h' });
      assert.ok(beyond.lease_duration <= 7200 && beyond.lease_duration > 7000, String(beyond.lease_duration));
      assert.match(beyond.warnings[0], /TTL of "10h0m0s" exceeded the effective max_ttl of ".*"; TTL value is capped accordingly/);
      const lookup = await client().write('sys/leases/lookup', { lease_id: creds.lease_id });
      assert.ok(lookup.data.last_renewal);
      const [pg] = await admin`select rolvaliduntil from pg_roles where rolname = ${creds.data.username}`;
      assert.equal(Math.floor((pg!.rolvaliduntil as Date).getTime() / 1000), Math.floor(Date.parse(lookup.data.expire_time) / 1000));
      const issued = Date.parse(lookup.data.issue_time);
      assert.ok(Date.parse(lookup.data.expire_time) <= issued + 7200 * 1000);
    });

    it('lists leases by prefix (sudo) and revoke-prefix revokes them all', async () => {
      await client().write('database/roles/pfx', { db_name: 'pg', creation_statements: READONLY, default_ttl: '1h' });
      const issued: Creds[] = [];
      for (let i = 0; i < 3; i++) issued.push(await client().read('database/creds/pfx'));
      const listed = await client().list('sys/leases/lookup/database/creds/pfx/');
      assert.deepEqual([...listed.data.keys].sort(), issued.map((c) => c.lease_id.split('/').pop()).sort());
      const folders = await client().list('sys/leases/lookup/database/creds/');
      assert.ok(folders.data.keys.includes('pfx/'));
      // Without sudo: refused, and nothing revoked.
      await client().write('sys/policy/leaser', { policy: 'path "sys/leases/*" { capabilities = ["update", "list"] }' });
      const { auth } = await client().tokenCreate({ policies: ['leaser'] });
      assert.equal(await statusOf(client(auth.client_token).write('sys/leases/revoke-prefix/database/creds/pfx', {})), 403);
      assert.equal(await statusOf(client(auth.client_token).list('sys/leases/lookup/database/creds/')), 403);
      for (const c of issued) assert.equal(await roleExists(c.data.username), true);
      // A prefix is a folder: pfx does not cover pfx2.
      await client().write('database/roles/pfx2', { db_name: 'pg', creation_statements: READONLY, default_ttl: '1h' });
      const sibling: Creds = await client().read('database/creds/pfx2');
      await client().write('sys/leases/revoke-prefix/database/creds/pfx', {});
      for (const c of issued) assert.equal(await roleExists(c.data.username), false);
      assert.equal(await leaseRows('database/creds/pfx/%'), 0);
      assert.equal(await roleExists(sibling.data.username), true);
      await client().revoke({ lease_id: sibling.lease_id });
    });

    it('the schedule revokes expired leases, and finishes a revocation a crash left half-done', async () => {
      await client().write('database/roles/short', { db_name: 'pg', creation_statements: READONLY, default_ttl: '1s', max_ttl: '1s' });
      const a: Creds = await client().read('database/creds/short');
      const b: Creds = await client().read('database/creds/short');
      assert.equal((await loginAs(a.data.username)).n, 3);
      // A crash after b's user was dropped but before its lease row was deleted.
      await target.unsafe(`revoke all on items from "${b.data.username}"; drop role "${b.data.username}"`);
      await new Promise((r) => setTimeout(r, 1100));
      const res = await tick();
      assert.equal(res.status, 202, await res.text());
      assert.equal(await roleExists(a.data.username), false);
      await assert.rejects(loginAs(a.data.username), /does not exist/);
      assert.equal(await leaseRows('database/creds/short/%'), 0);
      // A second delivery of the same tick does nothing twice; a new tick finds nothing to do.
      assert.equal((await tick()).status, 202);
    });

    it('concurrent revocations of one lease: one revokes, the others find it gone, none fails', async () => {
      const creds: Creds = await client().read('database/creds/ro');
      const answers = await Promise.all(Array.from({ length: 6 }, () => raw('sys/leases/revoke', { method: 'PUT', body: JSON.stringify({ lease_id: creds.lease_id }) })));
      assert.deepEqual(answers.map((a) => a.status), [204, 204, 204, 204, 204, 204]);
      assert.equal(await roleExists(creds.data.username), false);
      assert.equal(await leaseRows(creds.lease_id), 0);
    });

    it('a tick while sealed fails (to be redelivered) and revokes nothing; after unseal it does', async () => {
      await client().write('database/roles/sealed', { db_name: 'pg', creation_statements: READONLY, default_ttl: '1s', max_ttl: '1s' });
      const creds: Creds = await client().read('database/creds/sealed');
      await new Promise((r) => setTimeout(r, 1100));
      await client().write('sys/seal', {});
      const sealedTick = await tick();
      assert.ok(sealedTick.status >= 500, String(sealedTick.status));
      assert.equal(await roleExists(creds.data.username), true);
      await client('').unseal({ key: unsealKey });
      assert.equal((await tick()).status, 202);
      assert.equal(await roleExists(creds.data.username), false);
    });

    it('a revocation that fails stays visible with a retry time, and is revoked once the target is back', async () => {
      await client().write('database/config/broken', connection({ connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/none', verify_connection: false }));
      await client().write('database/config/pg', connection({ allowed_roles: '*' }));
      // A lease whose connection becomes unreachable: its revocation fails.
      await client().write('database/roles/flaky', { db_name: 'pg', creation_statements: READONLY, default_ttl: '1h' });
      const creds: Creds = await client().read('database/creds/flaky');
      await client().write('database/config/pg', connection({ connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/none', verify_connection: false }));
      const res = await raw('sys/leases/revoke', { method: 'PUT', body: JSON.stringify({ lease_id: creds.lease_id }) });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { errors: string[] }).errors[0]!, /cannot connect to the database \(ECONNREFUSED\)/);
      const [row] = await tdb.database.query<{ revoke_attempts: number; last_error: string; retry_later: boolean }>(
        sql`select revoke_attempts, last_error, next_attempt_at > now() as retry_later from vault.leases where lease_id = ${creds.lease_id}`,
      );
      assert.equal(row!.revoke_attempts, 1);
      assert.match(row!.last_error, /cannot connect/);
      assert.equal(row!.retry_later, true);
      assert.equal(await roleExists(creds.data.username), true);
      await client().write('database/config/pg', connection());
      await client().revoke({ lease_id: creds.lease_id });
      assert.equal(await roleExists(creds.data.username), false);
    });
  });

  describe('static roles', () => {
    it('rotation changes the password: the old one no longer matches, the new one does', async () => {
      const user = `zk_static_${suffix}`;
      await admin.unsafe(`create role "${user}" with login password 'before-vault'`);
      await client().write('database/static-roles/app', { db_name: 'pg', username: user, rotation_period: '1h' });
      assert.equal(scramMatches(await verifier(user), 'before-vault'), false, 'creating the role rotates at once');
      const first = await client().read('database/static-creds/app');
      assert.equal(first.data.username, user);
      assert.ok(scramMatches(await verifier(user), first.data.password));
      assert.ok(first.data.ttl > 3500 && first.data.ttl <= 3600);
      await client().write('database/rotate-role/app', {});
      const second = await client().read('database/static-creds/app');
      assert.notEqual(second.data.password, first.data.password);
      assert.equal(scramMatches(await verifier(user), first.data.password), false);
      assert.ok(scramMatches(await verifier(user), second.data.password));
      const role = await client().read('database/static-roles/app');
      assert.equal(role.data.rotation_period, 3600);
      assert.equal(role.data.last_vault_rotation, second.data.last_vault_rotation);
      assert.equal(JSON.stringify(role.data).includes(second.data.password), false);
    });

    it('quotes a user name with quotes in it: the statement reaches only that user', async () => {
      const user = `we"ird'${suffix}`;
      await admin.unsafe(`create role "${user.replace(/"/g, '""')}" with login password 'x'`);
      await client().write('database/static-roles/weird', { db_name: 'pg', username: user, rotation_period: '1h' });
      const creds = await client().read('database/static-creds/weird');
      assert.ok(scramMatches(await verifier(user), creds.data.password));
    });

    it('a user name written as SQL is only a name: 400, and nothing else happens', async () => {
      const res = await raw('database/static-roles/inject', {
        method: 'POST',
        body: JSON.stringify({ db_name: 'pg', username: 'x"; DROP TABLE items; --', rotation_period: '1h' }),
      });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { errors: string[] }).errors[0]!, /does not exist/);
      assert.equal((await target`select count(*)::int as n from items`)[0]!.n, 3);
      assert.equal(await statusOf(client().read('database/static-roles/inject')), 404);
    });

    it('the schedule rotates a role whose period has passed', async () => {
      const user = `zk_due_${suffix}`;
      await admin.unsafe(`create role "${user}" with login password 'x'`);
      await client().write('database/static-roles/due', { db_name: 'pg', username: user, rotation_period: '5s' });
      const before = await client().read('database/static-creds/due');
      await tdb.database.query(sql`select 1`);
      await new Promise((r) => setTimeout(r, 5100));
      assert.equal((await tick()).status, 202);
      const later = await client().read('database/static-creds/due');
      assert.notEqual(later.data.password, before.data.password);
      assert.ok(scramMatches(await verifier(user), later.data.password));
    });
  });

  describe('connections', () => {
    it('never returns the password, and stores it only encrypted', async () => {
      const read = await client().read('database/config/pg');
      assert.equal(read.data.plugin_name, 'postgresql-database-plugin');
      assert.equal(read.data.connection_details.username, vaultAdmin);
      assert.equal(JSON.stringify(read.data).includes('initial-admin-password'), false);
      const rows = await tdb.database.query<{ t: string }>(sql`select row_to_json(c)::text as t from vault.database_configs c`);
      for (const r of rows) assert.equal(r.t.includes('initial-admin-password'), false);
      assert.ok((await client().list('database/config')).data.keys.includes('pg'));
    });

    it('rotate-root gives the connection user a password only the vault knows, and keeps working', async () => {
      await client().write('database/rotate-root/pg', {});
      assert.equal(scramMatches(await verifier(vaultAdmin), 'initial-admin-password'), false);
      const creds: Creds = await client().read('database/creds/ro');
      assert.equal((await loginAs(creds.data.username)).n, 3);
      await client().revoke({ lease_id: creds.lease_id });
    });
  });

  describe('hostile input: a clear 4xx, nothing half-created', () => {
    const errorOf = async (path: string, body: unknown, method = 'POST') => {
      const res = await raw(path, { method, body: JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, error: (JSON.parse(text) as { errors: string[] }).errors[0] ?? '' };
    };

    it('refuses a bad connection_url, another plugin, and an unreachable target, storing nothing', async () => {
      for (const url of ['not a url', 'mysql://u:p@127.0.0.1/x', 'http://127.0.0.1/']) {
        const r = await errorOf('database/config/bad', connection({ connection_url: url }));
        assert.equal(r.status, 400, url);
        assert.match(r.error, /connection_url/);
      }
      assert.equal((await errorOf('database/config/bad', connection({ plugin_name: 'mysql-database-plugin' }))).status, 400);
      const down = await errorOf('database/config/bad', connection({ connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/x' }));
      assert.equal(down.status, 400);
      assert.match(down.error, /error creating database object: error verifying connection: cannot connect to the database/);
      assert.equal(await statusOf(client().read('database/config/bad')), 404);
    });

    it('a target that accepts the connection but never answers is an error within the connect timeout, not a hang', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const port = (silent.address() as AddressInfo).port;
        const r = await errorOf('database/config/silent', connection({ connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${port}/x` }));
        assert.equal(r.status, 400);
        assert.match(r.error, /error verifying connection: cannot connect to the database \(CONNECT_TIMEOUT\)/);
        assert.equal(await statusOf(client().read('database/config/silent')), 404);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((r) => silent.close(r));
      }
    });

    it('a failing creation statement leaves no lease and no database user', async () => {
      await client().write('database/roles/fails', {
        db_name: 'pg',
        creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'; GRANT SELECT ON no_such_table TO "{{name}}";`],
      });
      const before = await admin`select count(*)::int as n from pg_roles where rolname like 'v-root-fails-%'`;
      const r = await errorOf('database/creds/fails', undefined, 'GET');
      assert.equal(r.status, 400);
      assert.match(r.error, /failed to create the database user: relation "no_such_table" does not exist/);
      assert.equal(await leaseRows('database/creds/fails/%'), 0);
      assert.deepEqual(await admin`select count(*)::int as n from pg_roles where rolname like 'v-root-fails-%'`, before);
    });

    it('a target that is down answers 400 and leaves no lease', async () => {
      await client().write('database/roles/down', { db_name: 'broken', creation_statements: READONLY });
      const r = await errorOf('database/creds/down', undefined, 'GET');
      assert.equal(r.status, 400);
      assert.match(r.error, /cannot connect to the database/);
      assert.equal(await leaseRows('database/creds/down/%'), 0);
    });

    it('refuses unknown roles, names with quotes, unknown placeholders and roles not allowed', async () => {
      assert.equal((await errorOf('database/creds/nope', undefined, 'GET')).status, 400);
      assert.match((await errorOf('database/roles/a"b', { db_name: 'pg', creation_statements: READONLY })).error, /invalid role name/);
      assert.match((await errorOf('database/roles/x', { db_name: 'pg', creation_statements: ['CREATE ROLE {{nmae}}'] })).error, /unknown template placeholder/);
      assert.match((await errorOf('database/roles/x', { db_name: 'pg', creation_statements: ['DO $$ BEGIN EXECUTE \'{{name}}\'; END $$'] })).error, /dollar-quoted/);
      assert.match((await errorOf('database/roles/x', { db_name: 'nowhere', creation_statements: READONLY })).error, /no connection named/);
      await client().write('database/config/strict', connection({ allowed_roles: 'other' }));
      await client().write('database/roles/notallowed', { db_name: 'strict', creation_statements: READONLY });
      assert.match((await errorOf('database/creds/notallowed', undefined, 'GET')).error, /is not an allowed role/);
      assert.equal((await errorOf('sys/leases/lookup', { lease_id: 'database/creds/ro/unknown' }, 'PUT')).status, 400);
      assert.equal((await errorOf('sys/leases/renew', { lease_id: 'database/creds/ro/unknown' }, 'PUT')).status, 400);
      assert.equal((await errorOf('sys/leases/lookup', {}, 'PUT')).status, 400);
    });
  });

  describe('token leases', () => {
    it('looks up, renews (within the max TTL) and revokes a token by auth/token/create/<accessor>', async () => {
      const { auth } = await client().tokenCreate({ policies: ['default'], ttl: '1h', explicit_max_ttl: '2h' });
      const self = await client(auth.client_token).tokenLookupSelf();
      const id = `${self.data.path}/${auth.accessor}`;
      assert.match(id, /^auth\/token\/create\//);
      const lookup = await client().write('sys/leases/lookup', { lease_id: id });
      assert.equal(lookup.data.id, id);
      assert.ok(lookup.data.ttl > 3500 && lookup.data.ttl <= 3600);
      const renewed = await client().write('sys/leases/renew', { lease_id: id, increment: '10h' });
      assert.ok(renewed.lease_duration <= 7200 && renewed.lease_duration > 7000);
      assert.match(renewed.warnings[0], /capped/);
      assert.equal(await statusOf(client().write('sys/leases/lookup', { lease_id: `auth/approle/login/${auth.accessor}` })), 400);
      await client().write('sys/leases/revoke', { lease_id: id });
      assert.equal(await statusOf(client(auth.client_token).tokenLookupSelf()), 403);
      assert.equal(await statusOf(client().write('sys/leases/lookup', { lease_id: id })), 400);
    });
  });

  describe('a DB writer', () => {
    it('cannot make a lease revoke something else: the altered row is refused (403), nothing runs', async () => {
      const victim = `zk_victim_${suffix}`;
      await admin.unsafe(`create role "${victim}" with login`);
      const creds: Creds = await client().read('database/creds/ro');
      await tdb.database.query(sql`update vault.leases set revocation = jsonb_set(revocation, '{username}', ${JSON.stringify(victim)}::jsonb) where lease_id = ${creds.lease_id}`);
      assert.equal(await statusOf(client().revoke({ lease_id: creds.lease_id })), 403);
      assert.equal(await statusOf(client().write('sys/leases/lookup', { lease_id: creds.lease_id })), 403);
      assert.equal(await roleExists(victim), true);
      assert.equal(await roleExists(creds.data.username), true);
      // Put back as it was, the row authenticates again and revokes its own user only.
      await tdb.database.query(sql`update vault.leases set revocation = jsonb_set(revocation, '{username}', ${JSON.stringify(creds.data.username)}::jsonb) where lease_id = ${creds.lease_id}`);
      await client().revoke({ lease_id: creds.lease_id });
      assert.equal(await roleExists(creds.data.username), false);
      assert.equal(await roleExists(victim), true);
    });

    it('cannot change what a role runs on the target: creds of an altered role are refused', async () => {
      await tdb.database.query(sql`update vault.database_roles set creation_statements = array['ALTER ROLE postgres PASSWORD ''owned'''] where name = 'ro'`);
      const res = await raw('database/creds/ro');
      assert.equal(res.status, 403);
      assert.deepEqual(await res.json(), { errors: ['integrity check failed'] });
    });

    it('cannot insert a lease of its own making', async () => {
      await tdb.database.query(sql`
        insert into vault.leases (lease_id, engine, mount, role, issue_time, expire_time, ttl_seconds, max_ttl_seconds, renewable, revocation, mac)
        values ('database/creds/ro/forged', 'database', 'database/', 'ro', now(), now() + interval '1h', 3600, 3600, true,
          ${JSON.stringify({ db_name: 'pg', username: vaultAdmin, revocation_statements: [] })}::jsonb, '\\x00')`);
      assert.equal(await statusOf(client().write('sys/leases/renew', { lease_id: 'database/creds/ro/forged' })), 403);
      assert.equal(await roleExists(vaultAdmin), true);
    });

    it('cannot have the schedule drop a user with an expired forged lease: the row waits, marked', async () => {
      const victim = `zk_victim2_${suffix}`;
      await admin.unsafe(`create role "${victim}" with login`);
      await tdb.database.query(sql`
        insert into vault.leases (lease_id, engine, mount, role, issue_time, expire_time, ttl_seconds, max_ttl_seconds, renewable, revocation, mac)
        values ('database/creds/ro/forged-expired', 'database', 'database/', 'ro', now() - interval '2h', now() - interval '1h', 3600, 3600, true,
          ${JSON.stringify({ db_name: 'pg', username: victim, revocation_statements: [] })}::jsonb, '\\x00')`);
      assert.equal((await tick()).status, 202);
      assert.equal(await roleExists(victim), true);
      const [row] = await tdb.database.query<{ last_error: string; later: boolean }>(
        sql`select last_error, next_attempt_at > now() as later from vault.leases where lease_id = 'database/creds/ro/forged-expired'`,
      );
      assert.deepEqual(row, { last_error: 'integrity check failed', later: true });
    });
  });
});
