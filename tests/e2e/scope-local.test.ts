// ZenoScope's local mode as a developer uses it: `zenokube start` runs as a real child process on
// a fresh database of the real PostgreSQL server, and `zenokube apply -f` / `zenokube delete -f`
// run the documented example, exactly as docs/scope.md gives it, against that stack without
// Kubernetes: the role and database made on the server, the vault policy, role and paths, the
// OAuth client, and the route served on the stack's own port; then all of it taken away again.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import postgres from 'postgres';
import { request } from 'undici';
import { runScopeCli } from '#cli/scope';
import { clients, tenants } from '#functions/auth/core/schema';
import { basicAuth, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { mintCode } from '#functions/auth/testing/grants';
import { startEcho, type EchoBackend } from '#tests/conformance/echo-server';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The example's role and database names are server-wide: files that make them hold this lock. */
const EXAMPLE_LOCK = [7265, 20] as const;
const EXAMPLE_NAMES = { databases: ['payment_team'], roles: ['payment_team', 'payment_team_owner'] };

/** The example as docs/scope.md shows it, read from there. */
function documentedExample(): string {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/scope.md'), 'utf8');
  const m = /## The documented example\s+```yaml\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/scope.md has the example');
  return m[1]!;
}

describe('zenokube apply -f / delete -f (ZenoScope local mode)', () => {
  let admin: postgres.Sql;
  let lock: postgres.ReservedSql;
  let tdb: TestDatabase;
  let child: ChildProcess;
  let dataDir: string;
  let base: string;
  let port: number;
  let rootToken: string;
  let echo: EchoBackend;
  let file: string;
  let output = '';

  const cli = async (verb: 'apply' | 'delete', args: string[], env: Record<string, string> = {}) => {
    let out = '';
    let err = '';
    const code = await runScopeCli(verb, args, { env: { ZENO_BASE_URL: base, PORT: String(port), ZENO_DATA_DIR: dataDir, DATABASE_URL: tdb.url, ZENO_LOG_LEVEL: 'error', ...env }, out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  };
  const vault = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}/vault/v1/${path}`, { method, headers: { 'x-vault-token': token, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };
  const exists = async (what: 'role' | 'database', name: string) =>
    (what === 'role' ? await admin`select 1 from pg_roles where rolname = ${name}` : await admin`select 1 from pg_database where datname = ${name}`).length > 0;
  const throughStack = async () => {
    const res = await request(`${base}/charge`, { headers: { host: 'api.payments.zenokube.local' } });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };

  before(async () => {
    admin = postgres(SERVER_URL, { max: 2, onnotice: () => {} });
    lock = await admin.reserve();
    await lock`select pg_advisory_lock(${EXAMPLE_LOCK[0]}, ${EXAMPLE_LOCK[1]})`;
    for (const d of EXAMPLE_NAMES.databases) await admin.unsafe(`drop database if exists "${d}" with (force)`);
    for (const r of EXAMPLE_NAMES.roles) await admin.unsafe(`drop role if exists "${r}"`);
    tdb = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'zk-scope-local-'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'cli/zenokube.ts', 'start'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ZENO_BASE_URL: base, DATABASE_URL: tdb.url, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const check = () => (output.includes('First steps:') ? resolve() : undefined);
      child.stdout!.on('data', check);
      child.once('exit', (code) => reject(new Error(`start exited with ${code}:\n${output}`)));
    });
    const init = (await vault('PUT', 'sys/init', '', { secret_shares: 1, secret_threshold: 1 })).body as { root_token: string; keys: string[] };
    rootToken = init.root_token;
    assert.equal((await vault('PUT', 'sys/unseal', '', { key: init.keys[0] })).status, 200);
    const [t] = await tdb.database.db.select().from(tenants).where(eq(tenants.slug, 'default'));
    if (!t) await makeTenant(tdb.database.db, 'default');
    echo = await startEcho('payment-api', 'payment-team');
    file = join(dataDir, 'scope.yaml');
    writeFileSync(file, documentedExample());
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await echo?.close();
    await tdb?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (admin) {
      for (const d of EXAMPLE_NAMES.databases) await admin.unsafe(`drop database if exists "${d}" with (force)`);
      for (const r of EXAMPLE_NAMES.roles) await admin.unsafe(`drop role if exists "${r}"`);
      await lock`select pg_advisory_unlock(${EXAMPLE_LOCK[0]}, ${EXAMPLE_LOCK[1]})`;
      lock.release();
      await admin.end();
    }
  });

  it('stops where a dependency is missing and says so, having made only what came before', async () => {
    const run = await cli('apply', ['-f', file, '--service', `payment-api=127.0.0.1:${echo.port}`]);
    assert.equal(run.code, 1, run.out + run.err);
    assert.match(run.out, /DatabaseReady\s+True/);
    assert.match(run.out, /VaultReady\s+False\s+VaultUnavailable/);
    assert.match(run.out, /RouteReady\s+False\s+Waiting/);
    assert.ok(await exists('database', 'payment_team'));
    assert.equal((await throughStack()).status, 404, 'no route before its turn');
  });

  it('provisions the documented example against the running stack once the vault token is given', async () => {
    const run = await cli('apply', ['-f', file, '--service', `payment-api=127.0.0.1:${echo.port}`], { VAULT_TOKEN: rootToken });
    assert.equal(run.code, 0, run.out + run.err);
    assert.match(run.out, /ZenoScope\/payment-team: Ready \(Provisioned\)/);
    for (const c of ['NamespaceReady', 'DatabaseReady', 'VaultReady', 'SecretsReady', 'RouteReady', 'OAuthClientReady', 'MonitoringReady']) assert.match(run.out, new RegExp(`${c}\\s+True`));
    assert.match(run.out, /database credentials: vault secret\/scopes\/payment-team\/database/);
    // Applying again changes nothing and stays Ready.
    const again = await cli('apply', ['-f', file, '--service', `payment-api=127.0.0.1:${echo.port}`], { VAULT_TOKEN: rootToken });
    assert.equal(again.code, 0, again.out + again.err);
  });

  it('made a database and role on the local PostgreSQL, reachable with the credentials in the vault', async () => {
    const creds = (await vault('GET', 'secret/data/scopes/payment-team/database', rootToken)).body.data.data as Record<string, string>;
    const u = new URL(tdb.url);
    assert.equal(creds.host, u.hostname);
    assert.equal(creds.port, u.port || '5432');
    const db = postgres(creds.uri!, { max: 1, onnotice: () => {} });
    try {
      assert.deepEqual((await db`select current_user as u, current_database() as d`)[0], { u: 'payment_team', d: 'payment_team' });
      const exts = (await db`select extname from pg_extension`).map((e) => e.extname).sort();
      assert.deepEqual(exts.filter((e) => e !== 'plpgsql'), ['pgcrypto', 'uuid-ossp']);
    } finally {
      await db.end();
    }
  });

  it('made the vault policy and role, and an OAuth client that obtains a token', async () => {
    assert.match((await vault('GET', 'sys/policies/acl/scope-payment-team', rootToken)).body.data.policy, /secret\/data\/scopes\/payment-team/);
    assert.equal((await vault('GET', 'auth/kubernetes/role/scope-payment-team', rootToken)).body.data.bound_service_account_namespaces[0], 'payment-team');
    const oauth = (await vault('GET', 'secret/data/scopes/payment-team/oauth', rootToken)).body.data.data as { client_id: string; client_secret: string };
    const dbh = tdb.database.db;
    const [tenant] = await dbh.select().from(tenants).where(eq(tenants.slug, 'default'));
    const [client] = await dbh.select().from(clients).where(and(eq(clients.tenantId, tenant!.id), eq(clients.clientId, oauth.client_id)));
    const user = await makeUser(dbh, tenant!, { username: 'local-dev' });
    const redirect = 'https://api.payments.zenokube.local/callback';
    const code = await mintCode(dbh, tenant!, client!, user, redirect, 'openid');
    const res = await fetch(`${base}/auth/default/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(oauth.client_id, oauth.client_secret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect }).toString(),
    });
    assert.equal(res.status, 200, await res.clone().text());
  });

  it('serves the route on the stack’s own port, to the Service where it listens on this machine', async () => {
    const res = await throughStack();
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.text) as { service: string }).service, 'payment-api');
    // The stack's own routes are still served.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('tears everything down with delete -f, and the route stops', async () => {
    const run = await cli('delete', ['-f', file], { VAULT_TOKEN: rootToken });
    assert.equal(run.code, 0, run.out + run.err);
    assert.match(run.out, /ZenoScope\/payment-team: deleted/);
    assert.equal(await exists('database', 'payment_team'), false);
    assert.equal(await exists('role', 'payment_team'), false);
    assert.equal(await exists('role', 'payment_team_owner'), false);
    assert.equal((await vault('GET', 'sys/policies/acl/scope-payment-team', rootToken)).status, 404);
    assert.equal((await vault('GET', 'secret/data/scopes/payment-team/database', rootToken)).status, 404);
    assert.equal((await tdb.database.db.select().from(clients).where(eq(clients.clientId, 'scope-payment-team'))).length, 0);
    assert.equal((await throughStack()).status, 404);
    const again = await cli('delete', ['-f', file], { VAULT_TOKEN: rootToken });
    assert.equal(again.code, 1);
    assert.match(again.err, /not found/);
  });

  it('refuses a file that is not a ZenoScope or ZenoApp, and a bad --service, before touching anything', async () => {
    const bad = join(dataDir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n');
    assert.equal((await cli('apply', ['-f', bad])).code, 2);
    writeFileSync(bad, 'apiVersion: scope.zenokube.io/v1alpha1\nkind: ZenoScope\nmetadata: {name: ../etc}\n');
    assert.equal((await cli('apply', ['-f', bad])).code, 2);
    assert.equal((await cli('apply', ['-f', file, '--service', 'payment-api=host:99999'])).code, 2);
    assert.equal((await cli('apply', [])).code, 2);
  });
});
