// ZenoIngress HTTP/2 benchmark, runnable alone:
//   node --conditions=development --import tsx bench/ingress-h2.ts
//   BENCH_ROUNDS (2), BENCH_REQUESTS (20000), BENCH_CLIENTS (4), BENCH_STREAMS (16)
// Same machine, same run: a backend (nginx returning 200 "ok"), then nginx (`listen ... http2`,
// h2c by prior knowledge, one worker, upstream keepalive) and ZenoIngress (one process, a Gateway
// with the h2c annotation) in front of it, driven by h2load with several streams in flight per
// connection. Prints each proxy's multiplexed req/s and the ratio ZenoIngress/nginx, with the load
// average (the machine may be shared).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, has, startNginx } from './ingress/tools.js';
import type { Nginx } from './ingress/tools.js';

const root = join(fileURLToPath(import.meta.url), '../..');
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const requests = Number(process.env.BENCH_REQUESTS ?? 20_000);
const clients = Number(process.env.BENCH_CLIENTS ?? 4);
const streams = Number(process.env.BENCH_STREAMS ?? 16);
const line = (s: string) => process.stdout.write(s + '\n');

/** h2load's req/s over h2c (prior knowledge) against `port`. */
function h2load(port: number, n: number): number {
  const out = spawnSync('h2load', ['-n', String(n), '-c', String(clients), '-m', String(streams), `http://127.0.0.1:${port}/bench`], { encoding: 'utf8' });
  const done = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out.stdout);
  const ok = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(out.stdout);
  if (!done || !ok || Number(ok[1]) !== n) throw new Error(`h2load failed on ${port}: ${out.stdout}${out.stderr}`);
  return Number(done[1]);
}

async function startZeno(backendPort: number): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', join(root, 'bench/ingress/proxy.ts'), '--backend-port', String(backendPort), '--port', '0', '--h2c', '1'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`ingress exited ${code}`)));
  });
  return { proc, port };
}

async function main(): Promise<void> {
  if (!has('h2load') || !has('nginx')) {
    line('skipped: h2load/nginx not installed (apt-get install -y nghttp2-client nginx)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'zeno-bench-h2-'));
  const backendPort = await freePort();
  const nginxPort = await freePort();
  let backend: Nginx | undefined;
  let nginx: Nginx | undefined;
  let zeno: { proc: ChildProcess; port: number } | undefined;
  try {
    backend = await startNginx(dir, 'backend', `  server { listen 127.0.0.1:${backendPort} backlog=4096; location / { return 200 'ok'; } }`, backendPort);
    nginx = await startNginx(
      dir,
      'proxy',
      `  upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }\n  server { listen 127.0.0.1:${nginxPort} http2 backlog=4096; http2_max_concurrent_streams 128; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
      nginxPort,
    );
    zeno = await startZeno(backendPort);
    line(`setup: backend nginx (1 worker); nginx http2 proxy (1 worker, h2c) and ZenoIngress (1 process, tsx, h2c Gateway) in front of it; h2load -n ${requests} -c ${clients} -m ${streams}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} before the run`);
    // Warm-up, unmeasured (the JIT compiles ZenoIngress's request path).
    h2load(nginxPort, 2_000);
    h2load(zeno.port, 5_000);
    const n: number[] = [];
    const z: number[] = [];
    // Interleaved rounds, so a burst of outside load does not fall on one proxy only.
    for (let i = 0; i < rounds; i++) {
      n.push(h2load(nginxPort, requests));
      z.push(h2load(zeno.port, requests));
    }
    const best = (xs: number[]) => Math.max(...xs);
    line(`nginx http2 proxy: ${Math.round(best(n))} req/s (rounds: ${n.map(Math.round).join(', ')})`);
    line(`ZenoIngress HTTP/2: ${Math.round(best(z))} req/s (rounds: ${z.map(Math.round).join(', ')})`);
    line(`ratio ZenoIngress/nginx HTTP/2 multiplexed req/s: ${(best(z) / best(n)).toFixed(2)}; load average after ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    zeno?.proc.kill('SIGTERM');
    await nginx?.stop();
    await backend?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
