// A function's production bundle (scripts/bundle.ts) serves as `zenokube fn` does: built here from
// source (the development condition) rather than from dist/, with the same esbuild settings.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';
import { bundle, functionEntry } from './bundle.js';

/**
 * Keeps Node's Request, Response and Headers as the process starts, before the bundle runs; on
 * SIGUSR2 prints, for each, whether the global is still that class.
 */
const WATCH_GLOBALS = `data:text/javascript,const own = [Request, Response, Headers]; process.on('SIGUSR2', () => process.stderr.write('same:' + JSON.stringify([Request, Response, Headers].map((c, i) => c === own[i])) + '\\n'))`;

/** Spawns a bundle; resolves to its port once it logs "function listening", or rejects on exit. */
function serve(file: string, env: Record<string, string>, nodeArgs: string[] = []): { port: Promise<number>; stderr(): string; signal(s: NodeJS.Signals): void; stop(): Promise<void> } {
  const child = spawn(process.execPath, [...nodeArgs, file], { env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/"msg":"function listening".*?"port":(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  return {
    port,
    stderr: () => err,
    signal: (s) => child.kill(s),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

describe('function bundles', () => {
  const root = projectRoot();
  let tdb: TestDatabase;
  let out: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 1 });
    // Inside the project, so that the bundle finds package.json (and the migrations) above it.
    mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
    out = mkdtempSync(join(root, 'node_modules', '.cache', 'zk-bundle-'));
    const entry = functionEntry(join(root, 'tests', 'fixtures', 'functions', 'bench', 'ping', 'function.ts'), join(root, 'cli', 'fn-start.ts'), 'bench-ping');
    await bundle(entry, out, 'chunks/[name]-[hash]', ['development']);
  });
  after(async () => {
    rmSync(out, { recursive: true, force: true });
    await tdb.drop();
  });

  it('keeps the app and the deferred packages in chunks of their own', () => {
    const chunks = readdirSync(join(out, 'chunks'));
    for (const name of ['app-', 'undici-', 'catalog-']) assert.ok(chunks.some((c) => c.startsWith(name)), `a ${name}* chunk`);
  });

  it('loads neither Hono nor an HTTP server before its database connection opens', () => {
    // The entry's static imports are what runs before startFunction asks for the connection.
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s*"(\.[^"]+)"/g)) visit(resolve(dirname(file), m[1]!));
    };
    visit(join(out, 'bench-ping.mjs'));
    const code = [...seen].map((f) => readFileSync(f, 'utf8')).join('\n');
    assert.doesNotMatch(code, /from\s*"node:http2?"/);
    assert.doesNotMatch(code, /class Hono\b|new Hono\b/);
    assert.match(code, /\bimport\("[^"]*\/fn-[^"]*"\)/, 'the rest of the platform comes through a dynamic import');
  });

  it('gives a bundled CommonJS module a require() for built-ins and external packages', async () => {
    const dir = mkdtempSync(join(root, 'node_modules', '.cache', 'zk-require-'));
    try {
      // prom-client is external (see bundle()): its require() is the banner's, made from the chunk's URL.
      writeFileSync(join(dir, 'dep.cjs'), "exports.tls = require('tls'); exports.prom = require('prom-client');\n");
      writeFileSync(
        join(dir, 'entry.mjs'),
        "import dep from './dep.cjs';\nprocess.stdout.write(JSON.stringify([dep.tls === process.getBuiltinModule('tls'), typeof dep.prom.Registry]));\n",
      );
      await bundle({ in: join(dir, 'entry.mjs'), out: 'entry' }, join(dir, 'out'), 'chunks/[name]-[hash]');
      assert.doesNotMatch(readFileSync(join(dir, 'out', 'entry.mjs'), 'utf8'), /from\s*['"]node:module['"]/);
      const child = spawn(process.execPath, [join(dir, 'out', 'entry.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let printed = '';
      child.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
      assert.equal(await new Promise((r) => child.once('exit', r)), 0);
      assert.deepEqual(JSON.parse(printed), [true, 'function']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves its route from a real database with nothing but node and the bundle', async () => {
    const fn = serve(join(out, 'bench-ping.mjs'), { DATABASE_URL: tdb.url, NODE_ENV: 'production' });
    try {
      const port = await fn.port;
      const res = await fetch(`http://127.0.0.1:${port}/bench/ping`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { ok: boolean; applied: number };
      assert.equal(body.ok, true);
      assert.ok(body.applied > 0, 'the route read the migrations table');
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 200, 'readiness found the migrations beside package.json');
    } finally {
      await fn.stop();
    }
  });

  it('serves its first request with Node\'s own Request, Response and Headers in place', async () => {
    const fn = serve(join(out, 'bench-ping.mjs'), { DATABASE_URL: tdb.url, NODE_ENV: 'production' }, ['--import', WATCH_GLOBALS]);
    try {
      const port = await fn.port;
      const answered = await new Promise<number>((resolve, reject) =>
        get({ host: '127.0.0.1', port, path: '/bench/ping' }, (res) => res.resume().on('end', () => resolve(res.statusCode!))).on('error', reject),
      );
      assert.equal(answered, 200);
      fn.signal('SIGUSR2');
      while (!fn.stderr().includes('same:')) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(JSON.parse(fn.stderr().split('same:')[1]!.split('\n')[0]!), [true, true, true], 'Request, Response, Headers');
    } finally {
      await fn.stop();
    }
  });

  it('exits with the connection error when its database is unreachable', async () => {
    const url = new URL(tdb.url);
    url.port = String(await freePort());
    const fn = serve(join(out, 'bench-ping.mjs'), { DATABASE_URL: url.href, NODE_ENV: 'production' });
    await assert.rejects(fn.port, /exited 1: zenokube fn: .*Failed query/s);
    await fn.stop();
  });

  it('exits with the configuration error when its configuration is invalid', async () => {
    const fn = serve(join(out, 'bench-ping.mjs'), { DATABASE_URL: tdb.url, PORT: 'not-a-port' });
    await assert.rejects(fn.port, /exited 1: zenokube fn: .*PORT/s);
    await fn.stop();
  });
});
