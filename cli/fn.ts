// `zenokube fn <name>`: runs one function alone, exactly what its Knative pod runs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '#shared/db/root';
import { createEventPublisher } from '#shared/events/outbox';
import type { FunctionDeclaration } from '#shared/function/define';
import { hostFunction } from '#shared/function/host';
import { listen } from '#shared/http/serve';
import { bootPlatform, onShutdown } from './platform.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Imports only the named function's declaration (`<product>-<capability>`), nothing else. */
export async function loadDeclaration(name: string): Promise<FunctionDeclaration> {
  const dash = name.indexOf('-');
  if (!/^[a-z][-a-z0-9]*$/.test(name) || dash < 1) throw new Error(`not a function name: ${name}`);
  const base = EXT === '.ts' ? projectRoot() : join(projectRoot(), 'dist');
  const file = join(base, 'functions', name.slice(0, dash), name.slice(dash + 1), `function${EXT}`);
  if (!existsSync(file)) throw new Error(`no function named ${name} (looked for ${file})`);
  const decl = ((await import(pathToFileURL(file).href)) as { default: FunctionDeclaration }).default;
  if (decl.name !== name) throw new Error(`${file} declares ${decl.name}, not ${name}`);
  return decl;
}

export async function main(args: string[]): Promise<number | void> {
  const name = args[0] ?? process.env.ZENO_FUNCTION;
  if (!name) {
    process.stderr.write('usage: zenokube fn <name>   (or set ZENO_FUNCTION)\n');
    return 2;
  }
  const decl = await loadDeclaration(name);
  const platform = await bootPlatform();
  const { config, log, database } = platform;
  const events = createEventPublisher({ product: decl.product, source: `/${decl.product}/${decl.name.slice(decl.product.length + 1)}` });
  const hosted = await hostFunction(decl, { ...platform, events });
  const server = await listen(hosted.app.fetch, { port: config.port, host: config.host });
  log.info('function listening', { fn: decl.name, port: server.port, database: database.kind });
  onShutdown(log, async () => {
    await server.close();
    await hosted.module.shutdown?.();
    await database.close();
  });
}
