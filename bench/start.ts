// `npm start` request overhead: a simple GET (a function route that reads one row) sent
// sequentially over a keep-alive connection to the local runner, against the baseline of the same
// request handed to the function's platform-wrapped app in process. Prints latency and CPU time
// per request (this process serves and sends both) and their ratios to the baseline.
// Run alone: node --conditions=development --import tsx bench/start.ts
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import type { StackOptions, RunningStack } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions } from '#shared/function/discover';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { fixtureCatalog } from '#tests/fixtures/functions/fixture/core/events';
import { createTestDatabase } from '#tests/support/database';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const PATH = '/bench/ping';

interface Figures {
  p50Us: number;
  cpuUsPerRequest: number;
}

async function measure(send: () => Promise<number>): Promise<Figures> {
  for (let i = 0; i < 300; i++) await send();
  const durations: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const status = await send();
    durations.push(performance.now() - t0);
    if (status !== 200) throw new Error(`GET ${PATH} answered ${status}`);
  }
  const cpu = process.cpuUsage(cpu0);
  durations.sort((a, b) => a - b);
  return { p50Us: durations[Math.floor(durations.length / 2)]! * 1000, cpuUsPerRequest: (cpu.user + cpu.system) / REQUESTS };
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const overHttp = (port: number) => (): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: PATH, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });

const tdb = await createTestDatabase();
// The module under test can be swapped to compare two versions of the runner in one session.
const { startStack } = (await import(process.env.BENCH_STACK_MODULE ?? '#local-cluster/index')) as { startStack: (o: StackOptions) => Promise<RunningStack> };
const stack = await startStack({
  platform: { config: loadConfig({ PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error' }), log: silentLogger, metrics: createMetrics({ defaults: false }), database: tdb.database },
  declarations: await discoverFunctions(join(projectRoot(), 'tests', 'fixtures', 'functions')),
  catalog: fixtureCatalog,
});
try {
  const ping = stack.hosted.find((h) => h.declaration.name === 'bench-ping')!;
  const inProcess = () => Promise.resolve(ping.app.fetch(new Request(`http://127.0.0.1${PATH}`), undefined)).then(async (r) => (await r.arrayBuffer(), r.status));
  const port = Number(new URL(stack.localUrl).port);
  const base = await measure(inProcess);
  const runner = await measure(overHttp(port));
  const line = (name: string, f: Figures) =>
    `${name.padEnd(34)} p50 ${f.p50Us.toFixed(0).padStart(5)} µs (x${(f.p50Us / base.p50Us).toFixed(2)})   cpu ${f.cpuUsPerRequest.toFixed(0).padStart(5)} µs/req (x${(f.cpuUsPerRequest / base.cpuUsPerRequest).toFixed(2)})`;
  process.stdout.write(`start: GET ${PATH}, ${REQUESTS} sequential requests\n`);
  process.stdout.write(`${line('  baseline: the app in process', base)}\n`);
  process.stdout.write(`${line('  npm start, over HTTP', runner)}\n`);
} finally {
  agent.destroy();
  await stack.stop();
  await tdb.drop();
}
