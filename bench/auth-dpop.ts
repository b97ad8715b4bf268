// ZenoAuth's token endpoint under DPoP (RFC 9449) and device-flow polling (RFC 8628), as ratios
// measured in the same run against the same server process:
// - DPoP-bound client_credentials grants (a fresh Ed25519 proof per request, its jti
//   remembered in PostgreSQL) against plain client_credentials grants (goal >= 0.7x);
// - a device-code poll answered `authorization_pending` against a plain grant and against
//   /healthz (the platform wrapper alone).
// One token function (bench/auth/server.ts token) pinned to core 1; the four requests run in
// interleaved rounds of a fixed count (BENCH_REQUESTS, default 3000, at BENCH_CONCURRENCY,
// default 16; BENCH_ROUNDS, default 5); each figure is the round with the median server CPU per
// request. Proofs are signed before their round (on the load generator's core) so that signing
// them does not pace the round.
// Run: node --conditions=development --import tsx bench/auth-dpop.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Pool } from 'undici';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase } from '#tests/support/database';
import { basicAuth, makeClient, makeTenant } from '#functions/auth/testing/fixtures';

const root = projectRoot();
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
if (hasTaskset) spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });

/** utime + stime of a process in ms (/proc/<pid>/stat, 10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

const print = (name: string, value: string, note = '') => process.stdout.write(`${name.padEnd(46)} ${value.padStart(10)}  ${note}\n`);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

interface Measured {
  rate: number;
  cpuUsPerReq: number;
}

/** Sends `requests[i]` for every i, `CONCURRENCY` at a time; all must succeed as `ok` says. */
async function round(pool: Pool, pid: number, n: number, send: (i: number) => Promise<boolean>): Promise<Measured> {
  let next = 0;
  let failed = 0;
  const cpu0 = cpuMs(pid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) if (!(await send(i))) failed++;
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} of ${n} requests failed`);
  return { rate: n / elapsed, cpuUsPerReq: ((cpuMs(pid) - cpu0) * 1000) / n };
}

function medianOf(rounds: Measured[]): Measured {
  return [...rounds].sort((a, b) => a.cpuUsPerReq - b.cpuUsPerReq)[rounds.length >> 1]!;
}

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const args = [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : []), '--conditions=development', '--import', 'tsx', join(root, 'bench', 'auth', 'server.ts'), 'token'];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv as string[], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`token server exited ${code}: ${err}`)));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /PORT (\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
  });
  return { child, port };
}

async function main(): Promise<void> {
  const tdb = await createTestDatabase({ max: 2 });
  let server: { child: ChildProcess; port: number } | undefined;
  try {
    const db = tdb.database.db;
    const tenant = await makeTenant(db, 'bench');
    const { secret } = await makeClient(db, tenant, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' });
    const { client: tv, secret: tvSecret } = await makeClient(db, tenant, { client_id: 'tv', grant_types: [DEVICE_GRANT], scope: 'read' });
    // Device codes pending approval, one per poll of every round (and the warm-up): a code is
    // polled once, so every poll is answered authorization_pending, never slow_down.
    const codes = REQUESTS * (ROUNDS + 1);
    await db.execute(sql`insert into auth.device_codes (device_code_hash, tenant_id, client_id, user_code_hash, scope, expires_at)
      select encode(sha256(convert_to('bench-device-code-' || i, 'UTF8')), 'hex'), ${tenant.id}, ${tv.id},
        encode(sha256(convert_to('bench-user-code-' || i, 'UTF8')), 'hex'), 'read', now() + interval '1 hour'
      from generate_series(0, ${codes - 1}) i`);
    server = await startServer({
      DATABASE_URL: tdb.url,
      ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'),
      ZENO_BOOTSTRAP_CLIENT_SECRET: randomBytes(32).toString('base64url'),
      ZENO_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      ZENO_BASE_URL: 'http://localhost',
    });
    const pid = server.child.pid!;
    print('cores pinned', hasTaskset ? 'yes' : 'no', hasTaskset ? '(server on CPU 1, load generator on CPU 0; PostgreSQL unpinned)' : '(taskset missing)');
    print('load average at start (1/5/15 min)', '', load());

    const pool = new Pool(`http://127.0.0.1:${server.port}`, { connections: CONCURRENCY, pipelining: 1 });
    const formHeaders = (id: string, s: string) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(id, s) });
    const svcHeaders = formHeaders('svc', secret!);
    const tvHeaders = formHeaders('tv', tvSecret!);
    const post = async (headers: Record<string, string>, body: string, want: number, error?: string) => {
      const r = await pool.request({ path: '/auth/bench/token', method: 'POST', headers, body });
      const text = await r.body.text();
      return r.statusCode === want && (error === undefined || text.includes(`"${error}"`));
    };
    const grantBody = 'grant_type=client_credentials&scope=read';
    const plain = () => post(svcHeaders, grantBody, 200);
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = await exportJWK(publicKey);
    const proofs = async (n: number) => {
      const iat = Math.floor(Date.now() / 1000);
      return Promise.all(Array.from({ length: n }, () => new SignJWT({ htm: 'POST', htu: 'http://localhost/auth/bench/token', iat, jti: randomUUID() }).setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk }).sign(privateKey)));
    };
    const dpop = (list: string[]) => async (i: number) => {
      const r = await pool.request({ path: '/auth/bench/token', method: 'POST', headers: { ...svcHeaders, dpop: list[i]! }, body: grantBody });
      const text = await r.body.text();
      return r.statusCode === 200 && text.includes('"token_type":"DPoP"');
    };
    let codeBase = 0;
    const poll = (base: number) => (i: number) => post(tvHeaders, `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=bench-device-code-${base + i}`, 400, 'authorization_pending');
    const healthz = async () => {
      const r = await pool.request({ path: '/healthz', method: 'GET' });
      await r.body.text();
      return r.statusCode === 200;
    };

    // Warm-up: every path once through a round's worth of requests.
    await round(pool, pid, REQUESTS, plain);
    await round(pool, pid, REQUESTS, dpop(await proofs(REQUESTS)));
    await round(pool, pid, REQUESTS, poll(codeBase));
    codeBase += REQUESTS;
    await round(pool, pid, REQUESTS, healthz);

    const figures: Record<'plain' | 'dpop' | 'poll' | 'healthz', Measured[]> = { plain: [], dpop: [], poll: [], healthz: [] };
    for (let r = 0; r < ROUNDS; r++) {
      figures.plain.push(await round(pool, pid, REQUESTS, plain));
      figures.dpop.push(await round(pool, pid, REQUESTS, dpop(await proofs(REQUESTS))));
      figures.poll.push(await round(pool, pid, REQUESTS, poll(codeBase)));
      codeBase += REQUESTS;
      figures.healthz.push(await round(pool, pid, REQUESTS, healthz));
    }
    await pool.close();
    const m = { plain: medianOf(figures.plain), dpop: medianOf(figures.dpop), poll: medianOf(figures.poll), healthz: medianOf(figures.healthz) };
    print('rounds per figure (median CPU/req taken)', String(ROUNDS), `${REQUESTS} requests each at concurrency ${CONCURRENCY}, interleaved`);
    for (const [k, xs] of Object.entries(figures)) print(`  ${k} server CPU µs/req by round`, '', xs.map((x) => x.cpuUsPerReq.toFixed(0)).join(', '));
    const row = (name: string, x: Measured) => print(name, x.rate.toFixed(0), `req/s measured; server CPU ${x.cpuUsPerReq.toFixed(0)} µs/req = ${(1e6 / x.cpuUsPerReq).toFixed(0)}/s per dedicated core`);
    row('client_credentials grants (plain)', m.plain);
    row('client_credentials grants (DPoP-bound)', m.dpop);
    row('device_code polls (authorization_pending)', m.poll);
    row('/healthz', m.healthz);
    print('DPoP vs plain grants (per core / measured)', `${(m.plain.cpuUsPerReq / m.dpop.cpuUsPerReq).toFixed(2)}x`, `/ ${(m.dpop.rate / m.plain.rate).toFixed(2)}x measured (goal >= 0.7x)`);
    print('device poll CPU vs a plain grant', `${(m.poll.cpuUsPerReq / m.plain.cpuUsPerReq).toFixed(2)}x`, `(${m.poll.cpuUsPerReq.toFixed(0)} vs ${m.plain.cpuUsPerReq.toFixed(0)} µs)`);
    print('device poll CPU vs /healthz', `${(m.poll.cpuUsPerReq / m.healthz.cpuUsPerReq).toFixed(2)}x`, `(${m.poll.cpuUsPerReq.toFixed(0)} vs ${m.healthz.cpuUsPerReq.toFixed(0)} µs)`);
    print('load average at end (1/5/15 min)', '', load());
  } finally {
    if (server && server.child.exitCode === null) {
      const child = server.child;
      await new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
    }
    await tdb.drop();
  }
}

await main();
