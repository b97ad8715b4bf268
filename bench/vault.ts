// ZenoVault figures as ratios against a baseline version of the code, measured in the same run:
// KV v2 reads/s with p50/p99 through the path a user takes with `npm start` (ZenoIngress, then
// vault-api, which calls vault-unsealer), reads/s of the api alone (its own port, no ingress), and
// KV v2 writes/s through the ingress; the server's CPU per request (1e6 / µs = what one dedicated
// core does). Then, on the current code alone, a 1,000-item transit encrypt batch against 1,000
// single encrypt calls of the same key.
// The baseline is the code of BENCH_BASELINE_REF (default `main`), extracted with `git archive`
// into a temporary folder beside this tree's node_modules; both servers run side by side, each in
// its own process and database, and the rounds alternate (baseline, current, baseline, current).
// Run: node --conditions=development --import tsx bench/vault.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { Pool } from 'undici';
import { projectRoot } from '#shared/db/root';
import { createEmptyDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

const root = projectRoot();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? 'main';
/** Only the figures whose name contains this (`read through`, `api alone`, `write`, `transit`): a profile of one path. */
const ONLY = process.env.BENCH_ONLY ?? '';
const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
if (hasTaskset) spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });

const cpuMs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
/** CPU ms of the PostgreSQL backends serving `db` (a backend gone since counts as 0). */
async function backendsCpuMs(admin: postgres.Sql, db: string): Promise<Map<number, number>> {
  const rows = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${db} and pid <> pg_backend_pid()`;
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      out.set(pid, cpuMs(pid));
    } catch {
      // exited
    }
  }
  return out;
}
const print = (name: string, value: string, note = '') => process.stdout.write(`${name.padEnd(44)} ${value.padStart(14)}  ${note}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The baseline's tree: `git archive` of the ref beside this tree's dependencies. */
function baselineTree(): { dir: string; commit: string; cleanup: () => void } {
  const commit = spawnSync('git', ['rev-parse', '--short', `${BASELINE_REF}^{commit}`], { cwd: root, encoding: 'utf8' });
  if (commit.status !== 0) throw new Error(`BENCH_BASELINE_REF ${BASELINE_REF}: ${commit.stderr}`);
  const parent = mkdtempSync(join(tmpdir(), 'vault-bench-'));
  const dir = join(parent, 'tree');
  mkdirSync(dir);
  const archive = spawnSync('sh', ['-c', 'git archive "$0" | tar -x -C "$1"', BASELINE_REF, dir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  if (archive.status !== 0) throw new Error(`git archive ${BASELINE_REF}: ${archive.stderr}`);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  // The shared reference folder sits beside the project.
  const shared = join(dirname(root), 'shared');
  if (existsSync(shared)) symlinkSync(shared, join(parent, 'shared'));
  // The same server script in both trees: it uses only what both runners have.
  cpSync(join(root, 'bench', 'vault', 'server.ts'), join(dir, 'bench', 'vault', 'server.ts'));
  return { dir, commit: commit.stdout.trim(), cleanup: () => rmSync(parent, { recursive: true, force: true }) };
}

interface Server {
  name: string;
  child: ChildProcess;
  ingressPort: number;
  apiPort: number;
  tdb: { url: string; drop(): Promise<void> };
  /** A connection of its own to the server's database, to find its backends. */
  db: { admin: postgres.Sql; name: string };
  token: string;
  /** The root token (transit keys are created with it). */
  root: string;
}

async function startServer(name: string, tree: string): Promise<Server> {
  // Empty: the server migrates it with its own tree's migrations, as npm start does.
  const tdb = await createEmptyDatabase();
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_PROFILE, name)}`] : [];
  const args = [...profile, '--conditions=development', '--import', 'tsx', join(tree, 'bench', 'vault', 'server.ts')];
  // BENCH_NODE: another node binary for the servers (the image runs the current LTS).
  const node = process.env.BENCH_NODE ?? process.execPath;
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '1', node, ...args]] : [node, args];
  const env = { ...process.env, PORT: String(await freePort()), DATABASE_URL: tdb.url, ZENO_LOG_LEVEL: 'error', VAULT_UNSEALER_URL: '', VAULT_INTERNAL_KEY: '' };
  const child = spawn(cmd, argv as string[], { cwd: tree, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const [ingressPort, apiPort] = await new Promise<[number, number]>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /PORT (\d+) (\d+)/.exec(err);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once('exit', (code) => reject(new Error(`${name} server exited ${code}: ${err}`)));
  });
  const db = { admin: postgres(tdb.url, { max: 1, onnotice: () => {} }), name: new URL(tdb.url).pathname.slice(1) };
  return { name, child, ingressPort, apiPort, tdb, db, token: '', root: '' };
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

const N = 100;
const VALUE = { username: 'svc-bench', password: 'x'.repeat(48), port: 5432 };

/** Init, unseal, a policy and a non-root token (so the ACL is really evaluated), N secrets. */
async function prepare(s: Server): Promise<void> {
  const init = await call(s.ingressPort, 'PUT', 'sys/init', { secret_shares: 5, secret_threshold: 3 });
  for (const k of init.keys.slice(0, 3)) await call(s.ingressPort, 'PUT', 'sys/unseal', { key: k });
  const root = init.root_token as string;
  s.root = root;
  await call(s.ingressPort, 'PUT', 'sys/policies/acl/bench', { policy: 'path "secret/data/bench/*" { capabilities = ["create", "read", "update"] }' }, root);
  s.token = (await call(s.ingressPort, 'POST', 'auth/token/create', { policies: ['bench'] }, root)).auth.client_token as string;
  for (let i = 0; i < N; i++) await call(s.ingressPort, 'PUT', `secret/data/bench/s${i}`, { data: VALUE }, s.token);
}

interface Result {
  rate: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  /** CPU of the server's PostgreSQL backends per request. */
  dbCpuUsPerReq: number;
}

type Request = (pool: Pool, i: number) => Promise<boolean>;

async function measure(pid: number, port: number, request: Request, db: { admin: postgres.Sql; name: string }): Promise<Result> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 });
  // Warm-up: JIT, connection pools, caches.
  const warmEnd = performance.now() + 500;
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    let i = w;
    while (performance.now() < warmEnd) await request(pool, (i += CONCURRENCY));
  }));
  const latencies: number[] = [];
  let failed = 0;
  const cpu0 = cpuMs(pid);
  const db0 = await backendsCpuMs(db.admin, db.name);
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
  let dbCpu = 0;
  for (const [backend, ms] of await backendsCpuMs(db.admin, db.name)) dbCpu += ms - (db0.get(backend) ?? ms);
  await pool.close();
  if (failed > latencies.length / 100) throw new Error(`${failed} failed requests against ${latencies.length} good ones`);
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / elapsed, p50: pct(latencies, 50), p99: pct(latencies, 99), cpuUsPerReq: (cpu * 1000) / latencies.length, dbCpuUsPerReq: (dbCpu * 1000) / latencies.length };
}

const read = (token: string): Request => async (pool, i) => {
  const r = await pool.request({ path: `/vault/v1/secret/data/bench/s${i % N}`, method: 'GET', headers: { 'x-vault-token': token } });
  await r.body.dump();
  return r.statusCode === 200;
};
const writeBody = JSON.stringify({ data: VALUE });
const write = (token: string): Request => async (pool, i) => {
  const r = await pool.request({
    path: `/vault/v1/secret/data/bench/w${i % 1000}`,
    method: 'PUT',
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: writeBody,
  });
  await r.body.dump();
  return r.statusCode === 200;
};

const FIGURES = [
  { name: 'KV v2 read through the ingress', port: (s: Server) => s.ingressPort, request: read },
  { name: 'KV v2 read, api alone', port: (s: Server) => s.apiPort, request: read },
  { name: 'KV v2 write through the ingress', port: (s: Server) => s.ingressPort, request: write },
].filter((f) => f.name.includes(ONLY));

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
  const tree = baselineTree();
  const servers: Server[] = [];
  try {
    servers.push(await startServer('baseline', tree.dir));
    servers.push(await startServer('current', root));
    for (const s of servers) await prepare(s);
    print('cores pinned', hasTaskset ? 'yes' : 'no', hasTaskset ? '(servers on CPU 1, load on CPU 0; PostgreSQL unpinned)' : '(no taskset: per machine)');
    print('baseline', tree.commit, `(BENCH_BASELINE_REF=${BASELINE_REF}); ${ROUNDS} alternating rounds of ${SECONDS} s, ${CONCURRENCY} clients`);
    const results = new Map<string, Result[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const f of FIGURES) {
        for (const s of servers) {
          const r = await measure(s.child.pid!, f.port(s), f.request(s.token), s.db);
          const key = `${f.name}|${s.name}`;
          results.set(key, [...(results.get(key) ?? []), r]);
        }
      }
    }
    const range = (xs: number[], digits: number) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : '');
    for (const f of FIGURES) {
      const med = (s: string, k: keyof Result) => median(results.get(`${f.name}|${s}`)!.map((r) => r[k]));
      for (const s of servers) {
        const rs = results.get(`${f.name}|${s.name}`)!;
        print(`${f.name}: ${s.name} req/s`, med(s.name, 'rate').toFixed(0), `${range(rs.map((r) => r.rate), 0).trim()} p50 ${med(s.name, 'p50').toFixed(2)} ms, p99 ${med(s.name, 'p99').toFixed(2)} ms, server CPU ${med(s.name, 'cpuUsPerReq').toFixed(0)} µs/req (= ${(1e6 / med(s.name, 'cpuUsPerReq')).toFixed(0)}/s per core), PostgreSQL CPU ${med(s.name, 'dbCpuUsPerReq').toFixed(0)} µs/req`);
      }
      print(
        `${f.name}: ratio current/baseline`,
        `×${(med('current', 'rate') / med('baseline', 'rate')).toFixed(2)}`,
        `p50 ×${(med('current', 'p50') / med('baseline', 'p50')).toFixed(2)}, CPU per request ×${(med('current', 'cpuUsPerReq') / med('baseline', 'cpuUsPerReq')).toFixed(2)}, PostgreSQL CPU per request ×${(med('current', 'dbCpuUsPerReq') / med('baseline', 'dbCpuUsPerReq')).toFixed(2)}`,
      );
    }
    const current = servers.find((s) => s.name === 'current')!;
    if ('transit'.includes(ONLY)) await transit(current.ingressPort, current.child.pid!, current.root, current.root);
  } finally {
    for (const s of servers) {
      await new Promise<void>((r) => {
        if (s.child.exitCode !== null) return r();
        s.child.once('exit', () => r());
        s.child.kill('SIGTERM');
      });
      await s.db.admin.end();
      await s.tdb.drop();
    }
    tree.cleanup();
  }
}

await main();
