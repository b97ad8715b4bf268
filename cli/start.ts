// `zenokube start` (npm start): the whole stack in one process on one port.
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { migrate } from '#shared/db/migrate';
import { discoverFunctions } from '#shared/function/discover';
import { bootPlatform, onShutdown } from './platform.js';
import { startStack } from './stack.js';

export async function main(): Promise<void> {
  const started = performance.now();
  const platform = await bootPlatform();
  const { config, log, database } = platform;
  const applied = await migrate(database);
  if (applied.length) log.info('migrations applied', { applied });

  const base = import.meta.url.endsWith('.ts') ? projectRoot() : join(projectRoot(), 'dist');
  const declarations = await discoverFunctions(join(base, 'functions'));
  const stack = await startStack({ platform, declarations });

  const lines = [
    `Zenokube is running on ${config.baseUrl} (database: ${database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/` : 'PostgreSQL'}) in ${Math.round(performance.now() - started)} ms`,
    ...stack.hosted.flatMap((h) => h.declaration.routes.map((r) => `  ${(config.baseUrl + r.path).padEnd(48)} ${h.declaration.name}`)),
    `  ${(config.baseUrl + '/healthz').padEnd(48)} stack health`,
    `  ${stack.brokerUrl.padEnd(48)} event broker (K_SINK; ${stack.triggers.length} triggers, relays: ${[...stack.relays.keys()].join(', ') || 'none'})`,
  ];
  process.stdout.write(lines.join('\n') + '\n');

  onShutdown(log, async () => {
    await stack.stop();
    await database.close();
  });
}
