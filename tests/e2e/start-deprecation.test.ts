// `zenokube start` (the `npm start` path) under `node --throw-deprecation`: on an empty database it
// migrates, serves every function behind the ingress and stops, with no deprecated Node API
// reached on the way (a deprecation warning would be thrown and end the process). Part of the
// smoke tests that scripts/run-tests.mjs runs on every Node version of the matrix.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEmptyDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

/** Spawns the CLI's `start` as `npm start` does, plus `nodeArgs`; collects its output. */
function start(port: number, env: Record<string, string>, nodeArgs: string[]): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, ['--throw-deprecation', ...nodeArgs, '--conditions=development', '--import', 'tsx', 'cli/zenokube.ts', 'start'], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

/** Resolves once the output holds the first steps (the stack is up); rejects if the process exits first. */
function running(p: { child: ChildProcess; output(): string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (p.output().includes('First steps:')) resolve();
    };
    p.child.stdout!.on('data', check);
    p.child.once('exit', (code, signal) => reject(new Error(`start exited (${code ?? signal}) before it was up:\n${p.output()}`)));
    check();
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

describe(`zenokube start under --throw-deprecation (Node ${process.version})`, () => {
  let db: { url: string; drop(): Promise<void> };
  let dataDir: string;

  before(async () => {
    db = await createEmptyDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'zk-deprecation-'));
  });

  after(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('migrates, answers /healthz and a function route with 200 through the ingress, and stops cleanly', async () => {
    const port = await freePort();
    const stack = start(port, { DATABASE_URL: db.url, ZENO_DATA_DIR: dataDir }, []);
    try {
      await running(stack);
      const base = `http://127.0.0.1:${port}`;
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200, stack.output());
      assert.deepEqual(await health.json(), { status: 'ok' });
      const discovery = await fetch(`${base}/auth/system/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200, stack.output());
      await discovery.body?.cancel();
      const stopped = exited(stack.child);
      stack.child.kill('SIGINT');
      assert.equal(await stopped, 0, stack.output());
      assert.doesNotMatch(stack.output(), /DeprecationWarning/);
    } finally {
      if (stack.child.exitCode === null && stack.child.signalCode === null) stack.child.kill('SIGKILL');
    }
  });

  it('ends the start when a deprecated API is called: the flag is in force', async () => {
    // new Buffer() outside node_modules is deprecated at run time (DEP0005) on every Node version.
    const deprecated = 'data:text/javascript,new Buffer(1)';
    const stack = start(await freePort(), { DATABASE_URL: db.url, ZENO_DATA_DIR: dataDir }, ['--import', deprecated]);
    await assert.rejects(running(stack), /DEP0005/);
    assert.notEqual(await exited(stack.child), 0);
  });
});
