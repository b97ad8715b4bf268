// `zenokube start` as a newcomer runs it: a real child process on a free port, on a fresh
// database, serving every product behind one port, printing its URLs and first steps, and
// stopping cleanly on Ctrl-C.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

describe('zenokube start', () => {
  let tdb: TestDatabase;
  let child: ChildProcess;
  let dataDir: string;
  let base: string;
  let output = '';

  before(async () => {
    tdb = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'zk-start-'));
    const port = await freePort();
    base = `http://localhost:${port}`;
    child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'cli/zenokube.ts', 'start'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: tdb.url, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const check = () => (output.includes('First steps:') ? resolve() : undefined);
      child.stdout!.on('data', check);
      child.once('exit', (code) => reject(new Error(`start exited with ${code}:\n${output}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await tdb.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints its URL, every function route and the first steps', () => {
    assert.match(output, new RegExp(`Zenokube is running on ${base} \\(database: PostgreSQL\\)`));
    for (const fn of ['auth-token', 'auth-authorize', 'auth-oidc', 'auth-admin', 'vault-api', 'vault-unsealer']) assert.match(output, new RegExp(fn));
    assert.match(output, /ZenoAuth admin: client_id zeno-admin/);
    assert.match(output, /ZenoVault: VAULT_ADDR=/);
  });

  it('answers /healthz and /readyz with 200', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });

  it('routes each product path to its function', async () => {
    const discovery = await fetch(`${base}/auth/system/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, `${base}/auth/system`);
    assert.equal((await fetch(`${base}/vault/v1/sys/health`)).status, 501, 'the vault is not initialised yet');
  });

  it('routes through ZenoIngress by the generated HTTPRoutes: match types, methods, precedence', async () => {
    // auth-token's route is a regular expression restricted to POST and OPTIONS.
    const preflight = await fetch(`${base}/auth/system/token`, { method: 'OPTIONS' });
    await preflight.body?.cancel();
    assert.equal(preflight.headers.get('x-zeno-ingress'), null, 'OPTIONS reaches auth-token');
    const get = await fetch(`${base}/auth/system/token`);
    assert.equal(get.status, 404);
    assert.equal(get.headers.get('x-zeno-ingress'), 'route_not_found', 'no route takes GET on the token endpoint');
    // Exact (vault-unsealer's sys paths) wins over the PathPrefix /vault/v1 (vault-api).
    assert.equal((await fetch(`${base}/vault/v1/sys/health`)).status, 501, 'the unsealer answers: not initialised');
  });

  it('answers an unknown path with the ingress 404 route_not_found', async () => {
    const res = await fetch(`${base}/no/such/path`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-zeno-ingress'), 'route_not_found');
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  });

  it('serves a function\'s own endpoints at /_fn/<name>/ to a caller on this machine', async () => {
    const res = await fetch(`${base}/_fn/auth-oidc/healthz`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  });

  it('prints the generated admin secret once and keeps it in a private file that works at the token endpoint', async () => {
    const file = join(dataDir, 'auth', 'bootstrap-client-secret');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const secret = readFileSync(file, 'utf8').trim();
    assert.equal(output.split(secret).length - 1, 1, 'the secret is printed exactly once');
    const res = await fetch(`${base}/auth/system/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`zeno-admin:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { token_type: string }).token_type, 'Bearer');
  });

  it('fails and exits when its port is taken', async () => {
    const second = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'cli/zenokube.ts', 'start'], {
      env: { ...process.env, PORT: new URL(base).port, HOST: '127.0.0.1', DATABASE_URL: tdb.url, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    second.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => second.once('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(err, /cannot listen on 127\.0\.0\.1:\d+/);
  });

  it('stops cleanly on SIGINT', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });
});
