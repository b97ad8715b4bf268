// The server side of bench/vault.ts, run as its own process (pinned to one core when taskset
// exists): the vault api + unsealer behind one port, and a baseline function on another port
// that serves the same shape of request by reading one unencrypted row.
// Prints "PORT <vault> <baseline>" on stderr once listening.
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { loadConfig } from '#shared/config/index';
import { openDatabase } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import { defineFunction } from '#shared/function/define';
import { hostFunction } from '#shared/function/host';
import { listen } from '#shared/http/serve';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { startVaultServer } from '#tests/e2e/vault-server';

const database = await openDatabase({ url: process.env.DATABASE_URL!, max: 10 });
const vault = await startVaultServer(database);

const baselineDecl = defineFunction({
  name: 'vault-baseline',
  product: 'vault',
  description: 'bench baseline: one unencrypted row by path',
  routes: [{ path: '/plain/v1' }],
  scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
  load: async () => ({
    createApp: (ctx) =>
      new Hono().get('/plain/v1/secret/data/:path{.+}', async (c) => {
        const rows = await ctx.database.query<{ data: unknown }>(sql`select data from public.bench_plain where path = ${c.req.param('path')}`);
        if (!rows[0]) return c.json({ errors: [] }, 404);
        return c.json({ request_id: c.get('requestId' as never), data: { data: rows[0].data } });
      }),
  }),
});
const config = loadConfig({ PORT: '0', ZENO_LOG_LEVEL: 'error' });
const baseline = await hostFunction(baselineDecl, {
  config,
  database,
  log: silentLogger,
  metrics: createMetrics({ defaults: false }),
  events: createEventPublisher({ product: 'vault', source: '/vault/baseline' }),
  env: {},
});
const plain = await listen(baseline.app.fetch, { port: 0, host: '127.0.0.1' });
process.stderr.write(`PORT ${new URL(vault.baseUrl).port} ${plain.port}\n`);
process.once('SIGTERM', async () => {
  await plain.close(500);
  await vault.close();
  await database.close();
  process.exit(0);
});
