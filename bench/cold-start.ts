// Cold start and baseline RSS of one function run as its pod runs it (the image's entrypoint:
// `node dist/fn/zenokube.mjs fn <name>`, the function's esbuild bundle), beside a bare Hono
// hello-world on @hono/node-server as published, bundled with the same esbuild settings, measured
// in the same run: spawn → first 200 (on a route that queries PostgreSQL), then VmRSS. Alternating runs.
// For reference it also measures the unbundled tsc output (`node dist/cli/zenokube.js fn --dir …`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { openDatabase } from '#shared/db/index';
import { migrate } from '#shared/db/migrate';
import { createEmptyDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const root = projectRoot();
const cli = join(root, 'dist', 'cli', 'zenokube.js');
const launcher = join(root, 'dist', 'fn', 'zenokube.mjs');
const fixtureDir = join(root, 'dist', 'tests', 'fixtures', 'functions', 'bench', 'ping');
const bare = join(root, 'dist', 'bench', 'bare-hono.mjs');

interface Sample {
  ms: number;
  rssKb: number;
  /** CPU time (all threads) the process used until the first 200: steadier than wall time on a busy host. */
  cpuMs: number;
}

/** One GET; resolves to the status, or 0 when nothing listens yet. */
function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
  });
}

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? NaN);
}

/**
 * CPU time of every thread of the process so far, in ms: the first field of each
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds on CPU). /proc/<pid>/stat's utime and stime count
 * in clock ticks of 10 ms, too coarse for a start that takes a few of them.
 */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1e6;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Spawns `args`, polls `path` until 200, reads RSS, stops the process. */
async function coldStart(args: string[], path: string, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  let stderr = '';
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited ${child.exitCode}: ${stderr}`);
      const code = await status(port, path);
      if (code === 200) break;
      if (code !== 0 && code !== 503) throw new Error(`${path} answered ${code}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const ms = performance.now() - started;
    return { ms, rssKb: rssKb(child.pid!), cpuMs: cpuMs(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const range = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

async function main(): Promise<void> {
  for (const f of [cli, launcher, bare, join(root, 'dist', 'fn', 'bench-ping.mjs'), join(fixtureDir, 'function.js')]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build (npm run bench does)`);
  }
  const db = await createEmptyDatabase();
  try {
    const database = await openDatabase({ url: db.url, max: 1 });
    await migrate(database);
    await database.close();

    // The child sees only what a pod would: no development condition, no tsx.
    const base: Record<string, string> = { PATH: process.env.PATH ?? '', NODE_ENV: 'production' };
    const fnEnv = { ...base, DATABASE_URL: db.url, ZENO_LOG_LEVEL: 'info' };
    const fnArgs = [launcher, 'fn', 'bench-ping'];
    const tscArgs = [cli, 'fn', '--dir', fixtureDir];
    // One unmeasured run of each warms the page cache.
    await coldStart([bare], '/', base);
    await coldStart(fnArgs, '/bench/ping', fnEnv);
    await coldStart(tscArgs, '/bench/ping', fnEnv);

    const bareRuns: Sample[] = [];
    const fnRuns: Sample[] = [];
    const tscRuns: Sample[] = [];
    // The order rotates every round, so that no process always starts right after another one
    // (whose exit leaves the caches and the scheduler in a state that favours or hurts the next).
    const kinds = [
      async () => bareRuns.push(await coldStart([bare], '/', base)),
      async () => fnRuns.push(await coldStart(fnArgs, '/bench/ping', fnEnv)),
      async () => tscRuns.push(await coldStart(tscArgs, '/bench/ping', fnEnv)),
    ];
    for (let i = 0; i < RUNS; i++) {
      for (let k = 0; k < kinds.length; k++) await kinds[(i + k) % kinds.length]!();
    }
    const ms = (x: number) => `${Math.round(x)}`;
    const mb = (kb: number) => `${Math.round(kb / 1024)}`;
    const fnMs = median(fnRuns.map((s) => s.ms));
    const bareMs = median(bareRuns.map((s) => s.ms));
    const fnRss = median(fnRuns.map((s) => s.rssKb));
    const bareRss = median(bareRuns.map((s) => s.rssKb));
    process.stdout.write(
      `cold start: ${ms(fnMs)} ms vs bare hono ${ms(bareMs)} ms = ${(fnMs / bareMs).toFixed(2)}x (median of ${RUNS}; range ${range(fnRuns.map((s) => s.ms), ms)} vs ${range(bareRuns.map((s) => s.ms), ms)} ms; target <= 1.5x)\n`,
    );
    const fnCpu = median(fnRuns.map((s) => s.cpuMs));
    const bareCpu = median(bareRuns.map((s) => s.cpuMs));
    process.stdout.write(`cold start cpu: ${ms(fnCpu)} ms vs bare hono ${ms(bareCpu)} ms = ${(fnCpu / bareCpu).toFixed(2)}x (median of ${RUNS}; time on CPU of all threads until the first 200)\n`);
    const tscMs = median(tscRuns.map((s) => s.ms));
    const tscCpu = median(tscRuns.map((s) => s.cpuMs));
    process.stdout.write(
      `unbundled (tsc output, dist/cli/zenokube.js): ${ms(tscMs)} ms = ${(tscMs / bareMs).toFixed(2)}x, cpu ${ms(tscCpu)} ms = ${(tscCpu / bareCpu).toFixed(2)}x (median of ${RUNS})\n`,
    );
    process.stdout.write(
      `rss: ${mb(fnRss)} MB vs bare hono ${mb(bareRss)} MB = ${(fnRss / bareRss).toFixed(2)}x (median of ${RUNS}, after the first 200; target <= 1.3x)\n`,
    );
  } finally {
    await db.drop();
  }
}

await main();
