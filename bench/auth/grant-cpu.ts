// CPU per client_credentials grant in process (no sockets, no load generator competing): the
// hosted token function against the same JWT signed by a bare handler inside the same wrapper.
// Run: node --conditions=development --import tsx bench/auth/grant-cpu.ts
import { randomBytes } from 'node:crypto';
import { loadConfig } from '#shared/config/index';
import { createEventPublisher } from '#shared/events/outbox';
import { hostFunction } from '#shared/function/host';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { createTestDatabase } from '#tests/support/database';
import { basicAuth, makeClient, makeTenant } from '#functions/auth/testing/fixtures';
import token from '#functions/auth/token/function';

const N = Number(process.env.BENCH_N ?? 3000);
const CONCURRENCY = 16;
const tdb = await createTestDatabase({ max: 2 });
try {
  const tenant = await makeTenant(tdb.database.db, 'bench');
  const { secret } = await makeClient(tdb.database.db, tenant, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' });
  const env = { ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'), ZENO_BOOTSTRAP_CLIENT_SECRET: randomBytes(32).toString('base64url') };
  const config = loadConfig({ DATABASE_URL: tdb.url, ZENO_BASE_URL: 'http://localhost' });
  const hosted = await hostFunction(token, { config, database: tdb.database, log: silentLogger, metrics: createMetrics({ defaults: false }), events: createEventPublisher({ product: 'auth', source: '/auth/token' }), env });
  const init = { method: 'POST', body: 'grant_type=client_credentials&scope=read', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '40', authorization: basicAuth('svc', secret!) } };
  const round = async (n: number) => {
    let left = n;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        const res = await hosted.app.request('/auth/bench/token', init);
        if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }
    }));
    const d = process.cpuUsage(cpu);
    return { us: (d.user + d.system) / n, perSec: n / ((performance.now() - t0) / 1000) };
  };
  await round(500);
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await round(N));
  const best = runs.reduce((a, b) => (a.us < b.us ? a : b));
  process.stdout.write(`client_credentials grant in process: ${best.us.toFixed(0)} µs CPU/req (runs ${runs.map((r) => r.us.toFixed(0)).join(', ')}), ${best.perSec.toFixed(0)}/s wall\n`);
  await hosted.module.shutdown?.();
} finally {
  await tdb.drop();
}
