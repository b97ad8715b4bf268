// ZenoVault figures, ratios measured in the same run: KV v2 reads/s and writes/s through the
// full vault path (token, ACL, audit in and out, DEK from the unsealer, AES-256-GCM) against the
// same platform-wrapped HTTP path reading one unencrypted row; median and p99 latency; the
// server's CPU per request (1e6 / µs = what one dedicated core does); unseal time; a 1,000-item
// transit encrypt batch against 1,000 single encrypt calls of the same key.
// Run: node --conditions=development --import tsx bench/vault.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { Pool } from 'undici';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase } from '#tests/support/database';

const root = projectRoot();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
if (hasTaskset) spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });

const cpuMs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const print = (name: string, value: string, note = '') => process.stdout.write(`${name.padEnd(40)} ${value.padStart(12)}  ${note}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function startServer(url: string): Promise<{ child: ChildProcess; vaultPort: number; plainPort: number }> {
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const args = [...profile, '--conditions=development', '--import', 'tsx', join(root, 'bench', 'vault', 'server.ts')];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv as string[], { cwd: root, env: { ...process.env, DATABASE_URL: url, ZENO_LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const [vaultPort, plainPort] = await new Promise<[number, number]>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /PORT (\d+) (\d+)/.exec(err);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  return { child, vaultPort, plainPort };
}

interface Result {
  rate: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
}

async function measure(pid: number, port: number, request: (pool: Pool, i: number) => Promise<boolean>): Promise<Result> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 });
  // Warm-up: JIT, connection pool, caches.
  const warmEnd = performance.now() + 500;
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    let i = w;
    while (performance.now() < warmEnd) await request(pool, (i += CONCURRENCY));
  }));
  const latencies: number[] = [];
  let failed = 0;
  const cpu0 = cpuMs(pid);
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    let i = w;
    while (performance.now() < end) {
      const t0 = performance.now();
      if (await request(pool, (i += CONCURRENCY))) latencies.push(performance.now() - t0);
      else failed++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  await pool.close();
  if (failed > latencies.length / 100) throw new Error(`${failed} failed requests against ${latencies.length} good ones`);
  latencies.sort((a, b) => a - b);
  const rate = latencies.length / elapsed;
  return { rate, p50: pct(latencies, 50), p99: pct(latencies, 99), cpuUsPerReq: (cpu * 1000) / latencies.length };
}

async function call(port: number, method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/vault/v1/${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

/**
 * Transit: one 1,000-item encrypt batch (one unsealer round trip for the key version) against the
 * same 1,000 plaintexts as single calls from CONCURRENCY clients; the median of RUNS of each.
 */
async function transit(port: number, pid: number, root: string, app: string): Promise<void> {
  const ITEMS = 1000;
  const RUNS = 7;
  await call(port, 'PUT', 'transit/keys/bench', {}, root);
  const plaintexts = Array.from({ length: ITEMS }, (_, i) => Buffer.from(`4111-1111-1111-${String(i).padStart(4, '0')}`).toString('base64'));
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 });
  const headers = { 'x-vault-token': app, 'content-type': 'application/json' };
  const encrypt = async (body: string) => {
    const r = await pool.request({ path: '/vault/v1/transit/encrypt/bench', method: 'PUT', headers, body });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`transit encrypt: ${r.statusCode} ${text.slice(0, 200)}`);
    return text;
  };
  const singles = async () => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < ITEMS) await encrypt(JSON.stringify({ plaintext: plaintexts[next++] }));
    }));
    return performance.now() - t0;
  };
  const batchBody = JSON.stringify({ batch_input: plaintexts.map((plaintext) => ({ plaintext })) });
  const batch = async () => {
    const t0 = performance.now();
    const answer = JSON.parse(await encrypt(batchBody)) as { data: { batch_results: { ciphertext?: string }[] } };
    const ms = performance.now() - t0;
    if (answer.data.batch_results.filter((r) => r.ciphertext).length !== ITEMS) throw new Error('transit batch: not every item was encrypted');
    return ms;
  };
  // Warm-up: JIT, connections, the row-MAC key.
  await singles();
  for (let i = 0; i < 3; i++) await batch();
  const singleRuns: number[] = [];
  const batchRuns: number[] = [];
  let batchCpu = 0;
  for (let i = 0; i < RUNS; i++) {
    singleRuns.push(await singles());
    const cpu0 = cpuMs(pid);
    batchRuns.push(await batch());
    batchCpu += cpuMs(pid) - cpu0;
  }
  await pool.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const s = median(singleRuns);
  const b = median(batchRuns);
  print(`transit: ${ITEMS} single encrypts`, `${s.toFixed(1)} ms`, `${CONCURRENCY} clients, median of ${RUNS} (= ${((ITEMS * 1000) / s).toFixed(0)} items/s)`);
  print(`transit: one ${ITEMS}-item encrypt batch`, `${b.toFixed(1)} ms`, `median of ${RUNS}, min ${Math.min(...batchRuns).toFixed(1)} ms; server CPU ~${(batchCpu / RUNS).toFixed(0)} ms/batch (10 ms ticks)`);
  print('transit ratio batch/singles (time)', (b / s).toFixed(3), `the batch is ×${(s / b).toFixed(1)} faster`);
}

async function main(): Promise<void> {
  const tdb = await createTestDatabase({ max: 2 });
  const server = await startServer(tdb.url);
  const pid = server.child.pid!;
  try {
    print('cores pinned', hasTaskset ? 'yes' : 'no', hasTaskset ? '(server on CPU 1, load on CPU 0; PostgreSQL unpinned)' : '(no taskset: per machine)');
    const init = await call(server.vaultPort, 'PUT', 'sys/init', { secret_shares: 5, secret_threshold: 3 });
    const unsealStarted = performance.now();
    for (const k of init.keys.slice(0, 3)) await call(server.vaultPort, 'PUT', 'sys/unseal', { key: k });
    print('unseal (3 of 5 shares, 3 HTTP calls)', `${(performance.now() - unsealStarted).toFixed(1)} ms`, 'includes combine + canary check');
    const token = init.root_token as string;
    // A non-root token with a policy, so the ACL is really evaluated.
    await call(server.vaultPort, 'PUT', 'sys/policies/acl/bench', { policy: 'path "secret/data/bench/*" { capabilities = ["create", "read", "update"] }\npath "transit/encrypt/bench" { capabilities = ["update"] }' }, token);
    const app = (await call(server.vaultPort, 'POST', 'auth/token/create', { policies: ['bench'] }, token)).auth.client_token as string;
    const value = { username: 'svc-bench', password: 'x'.repeat(48), port: 5432 };
    const N = 100;
    await tdb.database.query(sql`create table public.bench_plain (path text primary key, data jsonb not null)`);
    for (let i = 0; i < N; i++) {
      await call(server.vaultPort, 'PUT', `secret/data/bench/s${i}`, { data: value }, app);
      await tdb.database.query(sql`insert into public.bench_plain values (${`bench/s${i}`}, ${JSON.stringify(value)}::jsonb)`);
    }
    const headers = { 'x-vault-token': app };
    const read = (prefix: string) => async (pool: Pool, i: number) => {
      const r = await pool.request({ path: `${prefix}/secret/data/bench/s${i % N}`, method: 'GET', headers });
      await r.body.dump();
      return r.statusCode === 200;
    };
    const writeBody = JSON.stringify({ data: value });
    const write = async (pool: Pool, i: number) => {
      const r = await pool.request({ path: `/vault/v1/secret/data/bench/w${i % 1000}`, method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: writeBody });
      await r.body.dump();
      return r.statusCode === 200;
    };
    const plain = await measure(pid, server.plainPort, read('/plain/v1'));
    const reads = await measure(pid, server.vaultPort, read('/vault/v1'));
    const writes = await measure(pid, server.vaultPort, write);
    const line = (name: string, r: Result) => {
      print(`${name} req/s`, r.rate.toFixed(0), `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, server CPU ${r.cpuUsPerReq.toFixed(0)} µs/req (= ${(1e6 / r.cpuUsPerReq).toFixed(0)}/s per core)`);
    };
    line('baseline: unencrypted row read', plain);
    line('vault KV v2 read', reads);
    line('vault KV v2 write', writes);
    print('read ratio vault/baseline (req/s)', (reads.rate / plain.rate).toFixed(2), `CPU per request ×${(reads.cpuUsPerReq / plain.cpuUsPerReq).toFixed(2)}`);
    print('write ratio vault/baseline read (req/s)', (writes.rate / plain.rate).toFixed(2), `concurrency ${CONCURRENCY}, ${SECONDS} s per figure`);
    await transit(server.vaultPort, pid, token, app);
  } finally {
    await new Promise<void>((r) => {
      server.child.once('exit', () => r());
      server.child.kill('SIGTERM');
    });
    await tdb.drop();
  }
}

await main();
