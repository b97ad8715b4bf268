// The platform wrapper's own cost, in process (no sockets): the same handler bare and inside
// createPlatformApp, CPU µs per request each, best of several interleaved rounds.
// Run: node --conditions=development --import tsx bench/auth/wrapper.ts
import { Hono } from 'hono';
import { createPlatformApp } from '#shared/http/app';
import { createLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';

const inner = new Hono();
inner.post('/auth/:tenant/token', (c) => c.json({ access_token: 'x', token_type: 'Bearer' }, 200, { 'cache-control': 'no-store' }));
let bytes = 0;
const log = createLogger({ level: 'info', sink: (line) => (bytes += line.length) }).child({ fn: 'bench' });
const wrapped = createPlatformApp(inner, { name: 'bench', log, metrics: createMetrics({ defaults: false }), bodyLimitBytes: 1 << 20, readiness: async () => [] });
const init = () => ({ method: 'POST', body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '29' } });

async function round(app: Hono<any>, n: number): Promise<number> {
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const res = await app.request('/auth/bench/token', init());
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  }
  const d = process.cpuUsage(cpu);
  return (d.user + d.system) / n;
}

const N = Number(process.env.BENCH_N ?? 20_000);
const bare: number[] = [];
const plat: number[] = [];
for (let r = 0; r < 5; r++) {
  bare.push(await round(inner, N));
  plat.push(await round(wrapped, N));
}
const best = (xs: number[]) => Math.min(...xs);
const out = (name: string, v: string) => process.stdout.write(`${name.padEnd(40)} ${v}\n`);
out('bare handler (µs/req, best of 5)', best(bare).toFixed(1));
out('inside the platform wrapper (µs/req)', best(plat).toFixed(1));
out('wrapper cost (µs/req)', (best(plat) - best(bare)).toFixed(1));
out('log bytes written', String(bytes));
