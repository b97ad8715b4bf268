// CPU profile of one ZenoAuth benchmark target under load: starts bench/auth/server.ts <mode>
// with its in-process profiler, warms it up for a second, profiles a few seconds of load, stops it
// and prints the functions by self time (start-up and module compilation excluded).
// Run: node --conditions=development --import tsx bench/auth/profile.ts [token|platform-sign|sign|hello] [seconds]
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase } from '#tests/support/database';
import { basicAuth, makeClient, makeTenant } from '#functions/auth/testing/fixtures';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const mode = process.argv[2] ?? 'token';
const seconds = Number(process.argv[3] ?? 4);
const root = projectRoot();

/** Self time by function, as a share of the non-idle samples. */
export function selfTimes(file: string, top = 30): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const cf = byId.get(id)!.callFrame;
    const where = cf.url.replace(/^.*node_modules\//, '').replace(root + '/', '');
    const key = `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`;
    totals.set(key, (totals.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const busy = [...totals].filter(([k]) => !k.startsWith('(idle)')).reduce((a, [, t]) => a + t, 0);
  return [`busy ${(busy / 1000).toFixed(0)} ms`, ...[...totals]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, t]) => `${((t / busy) * 100).toFixed(1).padStart(5)}%  ${k}`)];
}

const tdb = await createTestDatabase({ max: 2 });
const dir = mkdtempSync(join(tmpdir(), 'zeno-prof-'));
try {
  const tenant = await makeTenant(tdb.database.db, 'bench');
  const { secret } = await makeClient(tdb.database.db, tenant, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' });
  const env = {
    ...process.env,
    DATABASE_URL: tdb.url,
    ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'),
    ZENO_BOOTSTRAP_CLIENT_SECRET: randomBytes(32).toString('base64url'),
    ZENO_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    ZENO_BASE_URL: 'http://localhost',
    BENCH_PROFILE_FILE: join(dir, 'server.cpuprofile'),
  };
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', join(root, 'bench', 'auth', 'server.ts'), mode], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /PORT (\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
  });
  const path = mode === 'token' ? '/auth/bench/token' : mode === 'hello' ? '/' : '/token';
  const method = mode === 'hello' ? 'GET' : 'POST';
  const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('svc', secret!) };
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
  let ok = 0;
  const drive = (ms: number) => {
    const end = performance.now() + ms;
    return Promise.all(Array.from({ length: 32 }, async () => {
      while (performance.now() < end) {
        const r = await pool.request({ path, method, headers, body: method === 'POST' ? 'grant_type=client_credentials&scope=read' : undefined });
        await r.body.text();
        if (r.statusCode === 200) ok++;
      }
    }));
  };
  await drive(1000);
  child.kill('SIGUSR2');
  ok = 0;
  await drive(seconds * 1000);
  await pool.close();
  await new Promise<void>((r) => {
    child.removeAllListeners('exit');
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
  process.stdout.write(`${mode}: ${ok} good requests in ${seconds} s\n`);
  const file = 'server.cpuprofile';
  if (process.env.PROFILE_KEEP) copyFileSync(join(dir, file), process.env.PROFILE_KEEP);
  process.stdout.write(selfTimes(join(dir, file), Number(process.env.PROFILE_TOP ?? 30)).join('\n') + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
  await tdb.drop();
}
