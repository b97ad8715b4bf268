// `zenokube start` (npm start): the whole stack in one process on one port.
import { join } from 'node:path';
import { Hono } from 'hono';
import { projectRoot } from '#shared/db/root';
import { migrate } from '#shared/db/migrate';
import { createEventPublisher } from '#shared/events/outbox';
import { discoverFunctions } from '#shared/function/discover';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { listen } from '#shared/http/serve';
import { createDispatcher } from './dispatch.js';
import { bootPlatform, onShutdown } from './platform.js';

export async function main(): Promise<void> {
  const started = performance.now();
  const platform = await bootPlatform();
  const { config, log, database } = platform;
  const applied = await migrate(database);
  if (applied.length) log.info('migrations applied', { applied });

  const base = import.meta.url.endsWith('.ts') ? projectRoot() : join(projectRoot(), 'dist');
  const declarations = await discoverFunctions(join(base, 'functions'));
  const hosted: HostedFunction[] = [];
  for (const decl of declarations) {
    const events = createEventPublisher({ product: decl.product, source: `/${decl.product}/${decl.name.slice(decl.product.length + 1)}` });
    hosted.push(await hostFunction(decl, { ...platform, events }));
  }

  const root = new Hono();
  root.get('/healthz', (c) => c.json({ status: 'ok' }));
  root.get('/readyz', async (c) => {
    const ok = await database.ping();
    return c.json({ status: ok ? 'ready' : 'not ready', functions: hosted.map((h) => h.declaration.name) }, ok ? 200 : 503);
  });
  const dispatch = createDispatcher(hosted, root.fetch);
  const server = await listen(dispatch, { port: config.port, host: config.host });

  const lines = [
    `Zenokube is running on ${config.baseUrl} (database: ${database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/` : 'PostgreSQL'}) in ${Math.round(performance.now() - started)} ms`,
    ...hosted.flatMap((h) => h.declaration.routes.map((r) => `  ${(config.baseUrl + r.path).padEnd(48)} ${h.declaration.name}`)),
    `  ${(config.baseUrl + '/healthz').padEnd(48)} stack health`,
  ];
  process.stdout.write(lines.join('\n') + '\n');

  onShutdown(log, async () => {
    await server.close();
    for (const h of hosted) await h.module.shutdown?.();
    await database.close();
  });
}
