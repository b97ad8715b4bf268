// ZenoAuth figures, ratios measured in the same run: client-credentials grants/s of the token
// function on one core against a bare Hono endpoint that only signs the same JWT and a bare
// hello; password verifications/s and HTTP sign-ins/s at the documented Argon2id parameters;
// RSS of the token function idle and under load; cold start of the built token function.
// The four servers are warmed up, then measured in interleaved rounds (BENCH_ROUNDS, default 5);
// each figure is the median round.
// Run: node --conditions=development --import tsx bench/auth.ts [--no-build]
// (builds dist/ first when ZenoAuth or the kit changed since the last build)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase } from '#tests/support/database';
import { ARGON2_PARAMS, hashPassword, verifyPassword } from '#functions/auth/core/passwords';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { freePort } from '#tests/support/ports';

const root = projectRoot();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_SECONDS = 3;
const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
// The load generator stays on core 0; every server goes to core 1.
if (hasTaskset) spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });

/** utime + stime of a process in ms (/proc/<pid>/stat, 10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/**
 * Throughput and the server's own CPU time per request: on a shared, busy machine the second
 * is the steadier figure, and 1e6 / (CPU µs per request) is what one dedicated core would do.
 */
async function measure(t: Target, request: (pool: Pool) => Promise<boolean>, seconds: number, concurrency: number, onTick?: () => void) {
  const cpu0 = cpuMs(t.child.pid!);
  const started = performance.now();
  const rate = await load(t.port, request, seconds, concurrency, onTick);
  const elapsed = (performance.now() - started) / 1000;
  const cpuUsPerReq = ((cpuMs(t.child.pid!) - cpu0) * 1000) / (rate * elapsed);
  return { rate, cpuUsPerReq, perCore: 1e6 / cpuUsPerReq };
}

interface Measured {
  rate: number;
  cpuUsPerReq: number;
  perCore: number;
}

/** The round with the median CPU per request (its rate with it: one round's figures stay together). */
function medianOf(rounds: Measured[]): Measured {
  const sorted = [...rounds].sort((a, b) => a.cpuUsPerReq - b.cpuUsPerReq);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const rssKb = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? NaN);
const print = (name: string, value: string, note = '') => process.stdout.write(`${name.padEnd(44)} ${value.padStart(12)}  ${note}\n`);

interface Target {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** What the image runs: the bundled launcher when `npm run build` wrote it, else the tsc output. */
const podEntry = (): string => {
  const bundled = join(root, 'dist', 'fn', 'zenokube.mjs');
  return existsSync(bundled) ? bundled : join(root, 'dist', 'cli', 'zenokube.js');
};

async function startTarget(mode: string, env: Record<string, string>): Promise<Target> {
  const cli = podEntry();
  // The token function runs exactly as its pod does (built, no tsx) when dist/ has it.
  const built = mode === 'token' && existsSync(join(root, 'dist', 'functions', 'auth', 'token', 'function.js'));
  const fixedPort = built ? await freePort() : 0;
  const args = built
    ? [cli, 'fn', 'auth-token']
    : [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : []), '--conditions=development', '--import', 'tsx', join(root, 'bench', 'auth', 'server.ts'), mode];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  const childEnv = built ? { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env, PORT: String(fixedPort), HOST: '127.0.0.1' } : { ...process.env, ...env };
  const child = spawn(cmd, argv as string[], { cwd: root, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}: ${err}`)));
    if (!built) {
      child.stderr!.on('data', () => {
        const m = /PORT (\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      return;
    }
    const poll = async () => {
      try {
        if ((await fetch(`http://127.0.0.1:${fixedPort}/healthz`)).status === 200) return resolve(fixedPort);
      } catch {
        // not listening yet
      }
      setTimeout(poll, 20);
    };
    void poll();
  });
  if (mode === 'token') print('token fn process', built ? 'built' : 'tsx', built ? `(node ${relative(root, podEntry())} fn auth-token)` : '(bench/auth/server.ts under tsx: run npm run build for the pod figures)');
  return {
    child,
    port,
    stop: () => new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGTERM');
    }),
  };
}

/** Runs `concurrency` request loops for `seconds`; returns completed 2xx/3xx requests per second. */
async function load(port: number, request: (pool: Pool) => Promise<boolean>, seconds: number, concurrency: number, onTick?: () => void): Promise<number> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1 });
  let ok = 0;
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const tick = onTick ? setInterval(onTick, 250) : undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        if (await request(pool)) ok++;
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  if (tick) clearInterval(tick);
  await pool.close();
  if (failed > ok / 100) throw new Error(`${failed} failed requests against ${ok} good ones`);
  return ok / elapsed;
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-build') && distIsStale()) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const tdb = await createTestDatabase({ max: 2 });
  const targets: Target[] = [];
  try {
    const db = tdb.database.db;
    const tenant = await makeTenant(db, 'bench');
    const { secret } = await makeClient(db, tenant, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' });
    await makeClient(db, tenant, { client_id: 'web', redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code'], scope: 'openid', first_party: true });
    await makeUser(db, tenant, { username: 'alice', password: 'bench-password-1' });
    const env = {
      DATABASE_URL: tdb.url,
      ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'),
      ZENO_BOOTSTRAP_CLIENT_SECRET: randomBytes(32).toString('base64url'),
      ZENO_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      ZENO_BASE_URL: 'http://localhost',
    };
    print('cores pinned', hasTaskset ? 'yes' : 'no', hasTaskset ? '(server on CPU 1, load generator on CPU 0; PostgreSQL unpinned)' : '(taskset missing: figures are per machine, not per core)');

    const grantBody = 'grant_type=client_credentials&scope=read';
    const grantHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', secret!) };
    const grant = async (pool: Pool) => {
      const r = await pool.request({ path: '/auth/bench/token', method: 'POST', headers: grantHeaders, body: grantBody });
      await r.body.text();
      return r.statusCode === 200;
    };
    const sign = async (pool: Pool) => {
      const r = await pool.request({ path: '/token', method: 'POST', headers: grantHeaders, body: grantBody });
      await r.body.text();
      return r.statusCode === 200;
    };
    const hello = async (pool: Pool) => {
      const r = await pool.request({ path: '/', method: 'GET' });
      await r.body.text();
      return r.statusCode === 200;
    };

    // All four servers run side by side (each pinned to the server core, only one under load at a
    // time). Each is warmed up first, so that JIT compilation (whose threads share the pinned core)
    // is over before anything is measured; then the measurements are taken in interleaved rounds
    // and each figure is the median of its rounds, so that a slow spell of the shared machine
    // falls on every target alike instead of on whichever ran during it.
    const tokenTarget = await startTarget('token', env);
    targets.push(tokenTarget);
    const idleStart = rssKb(tokenTarget.child.pid!);
    await load(tokenTarget.port, grant, WARMUP_SECONDS, CONCURRENCY);
    await new Promise((r) => setTimeout(r, 500));
    const idleWarm = rssKb(tokenTarget.child.pid!);
    const others = await Promise.all((['sign', 'platform-sign', 'hello'] as const).map((mode) => startTarget(mode, env)));
    targets.push(...others);
    const [signTarget, platformTarget, helloTarget] = others as [Target, Target, Target];
    await load(signTarget.port, sign, WARMUP_SECONDS, CONCURRENCY);
    await load(platformTarget.port, sign, WARMUP_SECONDS, CONCURRENCY);
    await load(helloTarget.port, hello, WARMUP_SECONDS, CONCURRENCY);

    let peak = 0;
    const plan = [
      { target: tokenTarget, request: grant, onTick: () => (peak = Math.max(peak, rssKb(tokenTarget.child.pid!))) },
      { target: signTarget, request: sign },
      { target: platformTarget, request: sign },
      { target: helloTarget, request: hello },
    ];
    const rounds: Measured[][] = plan.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, p] of plan.entries()) rounds[i]!.push(await measure(p.target, p.request, SECONDS, CONCURRENCY, p.onTick));
    }
    const [grants, signs, platformSigns, hellos] = rounds.map(medianOf) as [Measured, Measured, Measured, Measured];
    for (const t of [tokenTarget, signTarget, platformTarget, helloTarget]) await t.stop();
    print('rounds per figure (median taken)', String(ROUNDS), `${SECONDS} s each, interleaved; warm-up ${WARMUP_SECONDS} s per server; token fn CPU µs/req by round: ${rounds[0]!.map((m) => m.cpuUsPerReq.toFixed(0)).join(', ')}`);

    const row = (name: string, m: Measured) =>
      print(name, m.rate.toFixed(0), `measured/s; server CPU ${m.cpuUsPerReq.toFixed(0)} µs/req = ${m.perCore.toFixed(0)}/s per dedicated core`);
    row('client_credentials grants/s (token fn)', grants);
    row('bare Hono sign-only (same JWT) req/s', signs);
    row('sign-only inside the platform wrapper req/s', platformSigns);
    row('bare Hono hello req/s', hellos);
    print('token fn vs sign-only (measured / per-core)', `${((grants.rate / signs.rate) * 100).toFixed(0)}%`, `/ ${((grants.perCore / signs.perCore) * 100).toFixed(0)}% (target >= 50%)`);
    print('token fn vs platform-wrapped sign-only', `${((grants.rate / platformSigns.rate) * 100).toFixed(0)}%`, `/ ${((grants.perCore / platformSigns.perCore) * 100).toFixed(0)}% per core`);
    print('token fn vs hello (measured / per-core)', `${((grants.rate / hellos.rate) * 100).toFixed(0)}%`, `/ ${((grants.perCore / hellos.perCore) * 100).toFixed(0)}%`);
    print('token fn per core vs Keycloak 120/s/vCPU', `${(grants.perCore / 120).toFixed(0)}x`, `(measured: ${(grants.rate / 120).toFixed(1)}x)`);
    print('token fn RSS after start (MiB)', (idleStart / 1024).toFixed(1));
    print('token fn RSS idle after warm-up (MiB)', (idleWarm / 1024).toFixed(1));
    print('token fn RSS peak under load (MiB)', (peak / 1024).toFixed(1), `concurrency ${CONCURRENCY}`);

    // Argon2id at the documented parameters, in this process (one core).
    const hash = await hashPassword('bench-password-1');
    let verifications = 0;
    const vEnd = performance.now() + 2000;
    const vStart = performance.now();
    while (performance.now() < vEnd) {
      if (await verifyPassword(hash, 'bench-password-1')) verifications++;
    }
    const verifyRate = verifications / ((performance.now() - vStart) / 1000);
    print(`Argon2id verifications/s (m=${ARGON2_PARAMS.memorySize},t=${ARGON2_PARAMS.iterations},p=${ARGON2_PARAMS.parallelism})`, verifyRate.toFixed(1), `${(verifyRate / 15).toFixed(1)}x Keycloak's 15 logins/s per vCPU`);

    // Full HTTP sign-ins: GET /authorize (page + interaction) then POST /login (Argon2id, session, code).
    const loginTarget = await startTarget('login', env);
    targets.push(loginTarget);
    const authorizePath = '/auth/bench/authorize?' + new URLSearchParams({ client_id: 'web', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const signIn = async (pool: Pool) => {
      const page = await pool.request({ path: authorizePath, method: 'GET' });
      const html = await page.body.text();
      const cookie = String(page.headers['set-cookie']).split(';')[0]!;
      const field = (n: string) => new RegExp(`name="${n}" value="([^"]+)"`).exec(html)?.[1] ?? '';
      const body = new URLSearchParams({ interaction: field('interaction'), csrf: field('csrf'), username: 'alice', password: 'bench-password-1' }).toString();
      const r = await pool.request({ path: '/auth/bench/login', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body });
      await r.body.text();
      return r.statusCode === 303;
    };
    await load(loginTarget.port, signIn, 1, 2);
    const logins = await load(loginTarget.port, signIn, SECONDS, 2);
    await loginTarget.stop();
    print('HTTP sign-ins/s (authorize + login, 1 core)', logins.toFixed(1), `${(logins / verifyRate * 100).toFixed(0)}% of the Argon2id bound; ${(logins / 15).toFixed(1)}x Keycloak`);

    await coldStart(env, secret!);
  } finally {
    for (const t of targets) if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL');
    await tdb.drop();
  }
}

/** True when a source file of ZenoAuth or the kit is newer than the built token function. */
function distIsStale(): boolean {
  const built = join(root, 'dist', 'functions', 'auth', 'token', 'function.js');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.ts') && statSync(join(dir, e.name)).mtimeMs > builtAt,
    );
  return newer(join(root, 'functions', 'auth')) || newer(join(root, 'shared'));
}

/** `node dist/fn/zenokube.mjs fn auth-token` (as the image runs it): spawn → first 200 on /healthz and on a real grant. */
async function coldStart(env: Record<string, string>, secret: string): Promise<void> {
  const cli = podEntry();
  if (!existsSync(join(root, 'dist', 'functions', 'auth', 'token', 'function.js'))) {
    print('cold start', 'skipped', '(dist/ has no auth-token: npm run build failed)');
    return;
  }
  const health: number[] = [];
  const firstGrant: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < 4; i++) {
    const port = await freePort();
    const started = performance.now();
    const args = [cli, 'fn', 'auth-token'];
    const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
    const child = spawn(cmd, argv as string[], { cwd: root, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' });
    try {
      let healthAt = 0;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`auth-token exited ${child.exitCode}`);
        try {
          if (!healthAt && (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) healthAt = performance.now() - started;
          if (healthAt) {
            const r = await fetch(`http://127.0.0.1:${port}/auth/bench/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', secret) }, body: 'grant_type=client_credentials' });
            await r.text();
            if (r.status === 200) break;
          }
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      if (i > 0) {
        // The first run warms the page cache and is not counted.
        health.push(healthAt);
        firstGrant.push(performance.now() - started);
        rss.push(rssKb(child.pid!) / 1024);
      }
    } finally {
      await new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  print('cold start to /healthz 200 (ms, median)', med(health).toFixed(0), `runs ${health.map((x) => x.toFixed(0)).join(', ')}`);
  print('cold start to first grant 200 (ms, median)', med(firstGrant).toFixed(0), `runs ${firstGrant.map((x) => x.toFixed(0)).join(', ')} (keys imported, DB connected)`);
  print('token fn RSS after first grant (MiB)', med(rss).toFixed(1));
}

await main();
