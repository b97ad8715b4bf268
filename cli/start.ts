// `zenokube start` (npm start): the whole stack in one process on one port.
import { join } from 'node:path';
import { startStack } from '#local-cluster/index';
import { projectRoot } from '#shared/db/root';
import { migrate } from '#shared/db/migrate';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import { bootPlatform, onShutdown } from '#shared/function/platform';

export async function main(): Promise<void> {
  const started = performance.now();
  const platform = await bootPlatform();
  const { config, log, database } = platform;
  const applied = await migrate(database);
  if (applied.length) log.info('migrations applied', { applied });

  const declarations = await discoverFunctions(functionsDir(projectRoot()));
  const stack = await startStack({ platform, declarations, localRoutes: join(config.dataDir, 'ingress') }).catch(async (err: unknown) => {
    // Nothing else may keep the process alive once the start has failed (e.g. the port is taken).
    await database.close();
    throw err;
  });

  const names = new Set(stack.hosted.map((h) => h.declaration.name));
  const firstSteps: string[] = [];
  if (names.has('auth-oidc')) {
    // Touching the system issuer makes ZenoAuth create its admin client now, so a generated
    // secret is printed at start rather than on the first request.
    await fetch(`${stack.localUrl}/auth/system/.well-known/openid-configuration`).then((r) => r.body?.cancel()).catch(() => {});
    const kept = process.env.ZENO_BOOTSTRAP_CLIENT_SECRET ? 'ZENO_BOOTSTRAP_CLIENT_SECRET' : `${config.dataDir}/auth/bootstrap-client-secret`;
    firstSteps.push(`  ZenoAuth admin: client_id zeno-admin (tenant system); its secret is in ${kept}`);
    firstSteps.push(`    token: curl -u zeno-admin:$SECRET -d grant_type=client_credentials -d scope=zeno:admin ${config.baseUrl}/auth/system/token`);
  }
  if (names.has('vault-unsealer')) {
    firstSteps.push(`  ZenoVault: VAULT_ADDR=${config.baseUrl}/vault npm run zenokube -- vault init   (prints the unseal shares and root token once)`);
  }

  const lines = [
    `Zenokube is running on ${config.baseUrl} (database: ${database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/` : 'PostgreSQL'}) in ${Math.round(performance.now() - started)} ms`,
    ...stack.hosted.flatMap((h) => h.declaration.routes.map((r) => `  ${(config.baseUrl + r.path).padEnd(48)} ${h.declaration.name}`)),
    `  ${(config.baseUrl + '/healthz').padEnd(48)} stack health`,
    `  ${stack.brokerUrl.padEnd(48)} event broker (K_SINK; ${stack.triggers.length} triggers, relays: ${[...stack.relays.keys()].join(', ') || 'none'})`,
    ...(firstSteps.length ? ['First steps:', ...firstSteps] : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');

  onShutdown(log, async () => {
    await stack.stop();
    await database.close();
  });
}
