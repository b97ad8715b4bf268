// ZenoIngress benchmark, runnable alone:
//   node --conditions=development --import tsx bench/ingress.ts
//   BENCH_PROXY_NODES=host,22,24 ...   the proxy on several node versions in the same run
//   BENCH_ROUNDS (2), BENCH_SECONDS (4)
// Same machine, same run: a backend (nginx returning 200 "ok"), then nginx as proxy
// (worker_processes 1, upstream keepalive) and ZenoIngress (one process) in front of it, driven
// by wrk. Prints one line per figure, with ratios against nginx and each proxy's CPU time per
// request (user + system, from /proc, the figure a busy machine disturbs least); then the routing engine's match
// cost from 10 to 10,000 routes (in process). Targets: >= 40% of nginx req/s, p99 added < 2 ms
// at half load, RSS < 80 MB at 2,000 connections, flat routing cost.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleProxy, canPin, cpuOf, freePort, has, LOAD_CPU, peakRss, pin, PROXY_CPU, rssMb, startNginx, wrk } from './ingress/tools.js';
import type { Nginx, WrkResult } from './ingress/tools.js';
import { routingCost } from './ingress/routing.js';
import { PROXY_NODE_FLAGS, PROXY_NODE_OPTIONS } from '#functions/ingress/heap';

const root = join(fileURLToPath(import.meta.url), '../..');
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const line = (s: string) => process.stdout.write(s + '\n');
const fmt = (r: WrkResult) => `${Math.round(r.rps)} req/s, p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms`;

/**
 * The node binaries the proxy runs on, from BENCH_PROXY_NODES (comma-separated: `host`, a major
 * such as 24, fetched as run-tests does with `npx -y node@<major>`, or a path); default `host`.
 * The image runs the current LTS, which may not be the node running this script.
 */
function proxyNodes(): { label: string; bin: string }[] {
  const specs = (process.env.BENCH_PROXY_NODES ?? 'host').split(',').map((x) => x.trim()).filter(Boolean);
  return specs.map((spec) => {
    let bin = spec;
    if (spec === 'host') bin = process.execPath;
    else if (/^\d+$/.test(spec)) bin = execFileSync('npx', ['--prefer-offline', '-y', `node@${spec}`, '-p', 'process.execPath'], { encoding: 'utf8' }).trim();
    return { label: `node ${execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()}`, bin };
  });
}

interface Zeno {
  proc: ChildProcess;
  port: number;
  mode: string;
  label: string;
}

async function startZeno(backendPort: number, port: number, node: { label: string; bin: string }): Promise<Zeno> {
  const bundle = await bundleProxy(root);
  // The proxy runs as the Deployment runs it: its heap flags on node's command line and in
  // NODE_OPTIONS; extra V8 flags are for experiments only.
  const flags = [...PROXY_NODE_FLAGS, ...(process.env.ZENO_INGRESS_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const args = bundle
    ? [...flags, bundle, '--backend-port', String(backendPort), '--port', String(port)]
    : [...flags, '--conditions=development', '--import', 'tsx', join(root, 'bench/ingress/proxy.ts'), '--backend-port', String(backendPort), '--port', String(port)];
  const proc = spawn(node.bin, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: PROXY_NODE_OPTIONS } });
  const bound = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`ingress exited ${code}`)));
  });
  return { proc, port: bound, mode: `${bundle ? 'bundled JS' : 'tsx'}, node ${flags.join(' ')}, NODE_OPTIONS=${PROXY_NODE_OPTIONS}`, label: node.label };
}

async function proxies(dir: string): Promise<void> {
  if (!has('wrk') || !has('nginx')) {
    line('skipped: wrk/nginx not installed (apt-get install -y wrk nginx)');
    return;
  }
  const backendPort = await freePort();
  const nginxPort = await freePort();
  let backend: Nginx | undefined;
  let nginx: Nginx | undefined;
  const zenos: Zeno[] = [];
  try {
    backend = await startNginx(dir, 'backend', `  server { listen 127.0.0.1:${backendPort} backlog=4096; location / { return 200 'ok'; } }`, backendPort);
    nginx = await startNginx(
      dir,
      'proxy',
      `  upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }\n  server { listen 127.0.0.1:${nginxPort} backlog=4096; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
      nginxPort,
    );
    for (const node of proxyNodes()) zenos.push(await startZeno(backendPort, await freePort(), node));
    pin(backend.pids(), LOAD_CPU);
    pin(nginx.pids(), PROXY_CPU);
    pin(zenos.map((z) => z.proc.pid!), PROXY_CPU);
    const url = (port: number) => `http://127.0.0.1:${port}/bench`;
    const c = 64;
    const cores = canPin ? `each proxy pinned to CPU ${PROXY_CPU}, wrk and the backend to CPU ${LOAD_CPU}` : 'unpinned (no taskset)';
    line(`setup: backend nginx (1 worker), nginx proxy (1 worker), ZenoIngress (${zenos[0]!.mode}, 1 process, on ${zenos.map((z) => z.label).join(' / ')}); ${cores}; wrk -t1 -c${c} -d${seconds}s after a warm-up of each; load average ${loadavg()[0]!.toFixed(1)} before the run (${process.env.BENCH_NOTE ?? 'shared machine'})`);
    const direct = await wrk(url(backendPort), { connections: c, seconds, dir });
    line(`backend direct: ${fmt(direct)}`);
    // Warm-up, unmeasured: the JIT compiles ZenoIngress's request path (nginx needs none, and gets the same).
    await wrk(url(nginxPort), { connections: c, seconds: 2, dir });
    for (const z of zenos) await wrk(url(z.port), { connections: c, seconds: 2, dir });
    // Interleave the rounds (nginx, then each ZenoIngress) so a burst of outside load does not
    // favour one side. The proxy's own CPU (user + system) per request is the figure outside load
    // disturbs least.
    const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
    const n: WrkResult[] = [];
    const nCpu: number[] = [];
    const z = zenos.map(() => ({ results: [] as WrkResult[], cpu: [] as number[] }));
    for (let round = 0; round < rounds; round++) {
      const nr = await cpuOf(nginx.pids, () => wrk(url(nginxPort), { connections: c, seconds, dir }));
      n.push(nr.result);
      nCpu.push((nr.cpu * 1e6) / nr.result.requests);
      for (const [i, zeno] of zenos.entries()) {
        const zr = await cpuOf(() => [zeno.proc.pid!], () => wrk(url(zeno.port), { connections: c, seconds, dir }));
        z[i]!.results.push(zr.result);
        z[i]!.cpu.push((zr.cpu * 1e6) / zr.result.requests);
      }
    }
    const best = (rs: WrkResult[]) => rs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const nb = best(n);
    const us = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
    line(`nginx proxy: ${fmt(nb)} (rounds: ${n.map((r) => Math.round(r.rps)).join(', ')}); CPU ${us(nCpu)} µs/req`);
    for (const [i, zeno] of zenos.entries()) {
      const zb = best(z[i]!.results);
      line(`ZenoIngress on ${zeno.label}: ${fmt(zb)} (rounds: ${z[i]!.results.map((r) => Math.round(r.rps)).join(', ')}); CPU ${us(z[i]!.cpu)} µs/req`);
      line(`ratio ZenoIngress (${zeno.label})/nginx req/s: ${(zb.rps / nb.rps).toFixed(2)} (target >= 0.40); CPU per request ratio nginx/ZenoIngress: ${(Math.min(...nCpu) / Math.min(...z[i]!.cpu)).toFixed(2)} (same meaning, less noise)`);
    }

    // The rest on the first node of the list.
    const zeno = zenos[0]!;
    const zb = best(z[0]!.results);
    // Half load: a fixed rate (wrk's delay() hook: 2 ms between requests per connection).
    const rate = zb.rps / 2;
    const conns = Math.max(1, Math.round((rate * 2) / 1000));
    const half = { connections: conns, seconds, dir, delayMs: 2 };
    const dHalf = await wrk(url(backendPort), half);
    const nHalf = await wrk(url(nginxPort), half);
    const zHalf = await wrk(url(zeno.port), half);
    line(`half load (~${Math.round(rate)} req/s offered, ${conns} connections): direct p99 ${dHalf.p99ms.toFixed(2)} ms, nginx p99 ${nHalf.p99ms.toFixed(2)} ms, ZenoIngress (${zeno.label}) p99 ${zHalf.p99ms.toFixed(2)} ms (${Math.round(zHalf.rps)} req/s)`);
    line(`p99 added at half load: ZenoIngress ${(zHalf.p99ms - dHalf.p99ms).toFixed(2)} ms, nginx ${(nHalf.p99ms - dHalf.p99ms).toFixed(2)} ms (target < 2 ms)`);

    const many = { connections: 2000, threads: 2, seconds: Math.min(seconds, 3), dir };
    for (const zn of zenos) {
      const zPid = zn.proc.pid!;
      const idle = rssMb(zPid);
      const zMany = await peakRss(() => [zPid], wrk(url(zn.port), many));
      line(`ZenoIngress on ${zn.label}: RSS idle after load ${idle.toFixed(1)} MB; 2,000 connections: peak RSS ${zMany.peakMb.toFixed(1)} MB at ${Math.round(zMany.result.rps)} req/s (target < 80 MB)`);
    }
    const nIdle = nginx.pids().reduce((sum, p) => sum + rssMb(p), 0);
    const nMany = await peakRss(() => nginx!.pids(), wrk(url(nginxPort), many));
    line(`nginx (master+worker): RSS idle ${nIdle.toFixed(1)} MB; 2,000 connections: peak RSS ${nMany.peakMb.toFixed(1)} MB at ${Math.round(nMany.result.rps)} req/s`);
  } finally {
    for (const zn of zenos) zn.proc.kill('SIGTERM');
    await nginx?.stop();
    await backend?.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'zeno-bench-ingress-'));
try {
  await proxies(dir);
  for (const l of routingCost()) line(l);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
