// `zenokube fn <name>`: runs one function alone, exactly what its Knative pod runs.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '#shared/db/root';
import type { EventCatalog } from '#eventing/catalog';
import { createEventPublisher } from '#shared/events/outbox';
import type { OutgoingEvent } from '#shared/events/publisher';
import { productsWithOutbox, startOutboxRelay, type OutboxRelay, type RelayOptions } from '#shared/events/relay';
import type { FunctionDeclaration } from '#shared/function/define';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { listen, type FetchHandler, type RunningServer } from '#shared/http/serve';
import { bootPlatform, onShutdown, type Platform } from './platform.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Imports the declaration in `dir` (its function.js or .ts), e.g. a fixture outside functions/. */
export async function loadDeclarationFrom(dir: string): Promise<FunctionDeclaration> {
  const file = join(resolve(dir), `function${EXT}`);
  if (!existsSync(file)) throw new Error(`no function declaration at ${file}`);
  const decl = ((await import(pathToFileURL(file).href)) as { default?: FunctionDeclaration }).default;
  if (!decl?.name) throw new Error(`${file} has no default export from defineFunction()`);
  return decl;
}

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

export interface ServeOptions {
  catalog?: EventCatalog;
  /** Extra relay settings (tests shorten the lease). */
  relay?: Partial<Omit<RelayOptions, 'database' | 'product' | 'sink' | 'log'>>;
}

export interface ServedFunction {
  readonly server: RunningServer;
  readonly relay: OutboxRelay | undefined;
  stop(): Promise<void>;
}

/**
 * Serves one function as its pod does. With $K_SINK set and an outbox in the product's schema,
 * its outbox relay runs too (and sweeps leftovers of earlier instances at start).
 */
export async function serveFunction(decl: FunctionDeclaration, platform: Platform, opts: ServeOptions = {}): Promise<ServedFunction> {
  const { config, log, database } = platform;
  // Hosting starts first (its first query is sent, its module loads), then the port is bound while
  // that is under way: a request that arrives before the app is built waits for it, as it would
  // in the listen backlog. "function listening" is logged once requests are answered.
  const hosting = hostServed(decl, platform, opts);
  // Its failure is handled below, once the port is bound; until then it must not count as unhandled.
  hosting.catch(() => {});
  let appFetch: FetchHandler | undefined;
  let server: RunningServer;
  try {
    server = await listen((req, env) => (appFetch ? appFetch(req, env) : hosting.then(({ hosted }) => hosted.app.fetch(req, env))), {
      port: config.port,
      host: config.host,
    });
  } catch (err) {
    await hosting.then(stopHosted, () => {});
    throw err;
  }
  let started: Awaited<typeof hosting>;
  try {
    started = await hosting;
  } catch (err) {
    await server.close();
    throw err;
  }
  const { hosted, relay } = started;
  appFetch = hosted.app.fetch;
  log.info('function listening', { fn: decl.name, port: server.port, database: database.kind, relay: relay ? config.sink : 'off' });
  return {
    server,
    relay,
    async stop() {
      await server.close();
      await stopHosted(started);
    },
  };
}

/** Builds the function's platform app, and starts its outbox relay when it has one to run. */
async function hostServed(decl: FunctionDeclaration, platform: Platform, opts: ServeOptions): Promise<{ hosted: HostedFunction; relay: OutboxRelay | undefined }> {
  const { config, log, database } = platform;
  // The catalog (its zod schemas) loads only for a function that can emit (its product has an
  // outbox) or receives events: the start path of any other imports nothing it does not use.
  const [outboxes] = await Promise.all([productsWithOutbox(database, [decl.product]), decl.load()]);
  const hasOutbox = outboxes.length > 0;
  const catalog = opts.catalog ?? (hasOutbox || decl.subscribes?.length ? (await import('#eventing/catalog')).catalog : undefined);
  const sink = config.sink;
  const relay = sink && hasOutbox
    ? await startOutboxRelay({ database, product: decl.product, sink, log, ...opts.relay })
    : undefined;
  const events = createEventPublisher({
    product: decl.product,
    source: `/${decl.product}/${decl.name.slice(decl.product.length + 1)}`,
    ...(catalog ? { check: (e: OutgoingEvent) => catalog.checkOutgoing(e) } : {}),
    // With a relay in this pod, wake it directly; without one, NOTIFY wakes whichever relay runs.
    ...(relay ? { wake: () => relay.hint() } : {}),
  });
  try {
    return { hosted: await hostFunction(decl, { ...platform, events, catalog, relay }), relay };
  } catch (err) {
    await relay?.stop();
    throw err;
  }
}

async function stopHosted({ hosted, relay }: { hosted: HostedFunction; relay: OutboxRelay | undefined }): Promise<void> {
  await relay?.stop();
  await hosted.module.shutdown?.();
}

export async function main(args: string[]): Promise<number | void> {
  const dir = args[0] === '--dir' ? args[1] : undefined;
  const name = dir ? undefined : (args[0] ?? process.env.ZENO_FUNCTION);
  if (!name && !dir) {
    process.stderr.write('usage: zenokube fn <name> | zenokube fn --dir <folder of function.js>   (or set ZENO_FUNCTION)\n');
    return 2;
  }
  const decl = dir ? await loadDeclarationFrom(dir) : await loadDeclaration(name!);
  await runFunction(decl);
}

/**
 * Boots the platform (or takes the one `booting` started) and serves `decl` until SIGTERM. A bundled
 * function starts here through ./fn-start.ts, which opens the database before this module loads.
 */
export async function runFunction(decl: FunctionDeclaration, booting?: Promise<Platform>): Promise<void> {
  // The function's module starts loading while the platform boots (its files are read and compiled
  // while the database connects); a failure surfaces where serveFunction awaits the same load.
  decl.load().catch(() => {});
  const platform = await (booting ?? bootPlatform());
  const served = await serveFunction(decl, platform);
  onShutdown(platform.log, async () => {
    await served.stop();
    await platform.database.close();
  });
}
