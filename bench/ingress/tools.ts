// Helpers of bench/ingress.ts: nginx instances, wrk runs, RSS sampling, the bundled proxy.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
export { freePort } from '#tests/support/ports';

export const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/**
 * The cores the run uses when taskset is there: each proxy alone on PROXY_CPU (one worker, one
 * core), wrk and the backend on LOAD_CPU, so that neither proxy shares its core with the load it
 * serves and both are measured alike.
 */
export const PROXY_CPU = 1;
export const LOAD_CPU = 0;
export const canPin = spawnSync('taskset', ['-V']).status === 0;

/** Moves the processes `pids` to `cpu` (all their threads); a no-op without taskset. */
export function pin(pids: number[], cpu: number): void {
  if (!canPin) return;
  for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

export interface Nginx {
  proc: ChildProcess;
  pids(): number[];
  stop(): Promise<void>;
}

/** Starts nginx (worker_processes 1, no access log) with an `http {}` body, in its own prefix. */
export async function startNginx(dir: string, name: string, httpBody: string, port: number): Promise<Nginx> {
  const prefix = join(dir, name);
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\npid ${prefix}/nginx.pid;\nerror_log stderr error;\nworker_rlimit_nofile 16384;\nevents { worker_connections 8192; }\nhttp {\n  access_log off;\n  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;\n  keepalive_requests 1000000;\n${httpBody}\n}\n`,
  );
  const proc = spawn('nginx', ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port);
  return {
    proc,
    pids: () => {
      const master = proc.pid!;
      const children = spawnSync('pgrep', ['-P', String(master)]).stdout.toString().trim().split('\n').filter(Boolean).map(Number);
      return [master, ...children];
    },
    stop: () =>
      new Promise<void>((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGQUIT');
      }),
  };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** VmRSS of a process in MB (0 when gone). */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
}

/** CPU time (user + system) a process has used so far, in seconds (0 when gone). */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name: state is 3rd, utime 14th, stime 15th (proc(5)); clock ticks of 1/100 s.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** Runs `work` and returns its result with the CPU seconds `pids()` used meanwhile. */
export async function cpuOf<T>(pids: () => number[], work: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const sum = () => pids().reduce((n, p) => n + cpuSeconds(p), 0);
  const before = sum();
  const result = await work();
  return { result, cpu: sum() - before };
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/** Runs wrk; `delayMs` throttles each connection (wrk's delay() hook) for a fixed-rate run. */
export function wrk(url: string, opts: { connections: number; seconds: number; threads?: number; delayMs?: number; dir: string }): Promise<WrkResult> {
  const args = ['-t', String(opts.threads ?? 1), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--latency'];
  if (opts.delayMs) {
    const script = join(opts.dir, `delay-${opts.delayMs}.lua`);
    writeFileSync(script, `function delay()\n  return ${opts.delayMs}\nend\n`);
    args.push('-s', script);
  }
  args.push(url);
  return new Promise((resolve, reject) => {
    const p = canPin ? spawn('taskset', ['-c', String(LOAD_CPU), 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const p50 = /\s50%\s+(\S+)/.exec(out);
      const p99 = /\s99%\s+(\S+)/.exec(out);
      const total = /(\d+) requests in/.exec(out);
      if (code !== 0 || !rps || !p50 || !p99 || !total) return reject(new Error(`wrk failed: ${out}`));
      resolve({ rps: Number(rps[1]), p50ms: toMs(p50[1]!), p99ms: toMs(p99[1]!), requests: Number(total[1]) });
    });
  });
}

/** Samples the summed RSS of `pids()` every 100 ms while `work` runs; returns the peak. */
export async function peakRss<T>(pids: () => number[], work: Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, pids().reduce((n, p) => n + rssMb(p), 0));
  }, 100);
  try {
    const result = await work;
    return { result, peakMb: peak };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Bundles bench/ingress/proxy.ts to plain JS with esbuild (tsx's own dependency) so the proxy
 * runs as production code, without a TypeScript loader in its memory; undefined when unavailable.
 */
export async function bundleProxy(root: string): Promise<string | undefined> {
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    // Inside node_modules so the external packages resolve from the bundle.
    const outdir = join(root, 'node_modules/.cache/zeno-bench/ingress');
    await esbuild.build({
      entryPoints: { proxy: join(root, 'bench/ingress/proxy.ts') },
      bundle: true,
      // Dynamic imports stay chunks loaded when imported, as in the production bundles.
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir,
      outExtension: { '.js': '.mjs' },
      conditions: ['development'],
      packages: 'external',
      logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    return join(outdir, 'proxy.mjs');
  } catch {
    return undefined;
  }
}
