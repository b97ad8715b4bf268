// One function served alone, exactly as its Knative pod serves it (`zenokube fn <name>`, and the
// image's function bundles): the platform app on $PORT, and its outbox relay to $K_SINK.
import type { OutgoingEvent } from '#shared/events/publisher';
import { createEventPublisher } from '#shared/events/outbox';
import { outboxGauges } from '#shared/events/outbox-metrics';
import { poolGauges } from '#shared/db/pool-metrics';
import { productsWithOutbox, startOutboxRelay, type OutboxRelay, type RelayOptions } from '#shared/events/relay';
import { resolveEventSchemas, type EventSchemasSource } from '#shared/events/schemas';
import { listen, type FetchHandler, type RunningServer } from '#shared/http/serve';
import { assertDeclaredEmit, type FunctionDeclaration } from './define.js';
import { hostFunction, type HostedFunction } from './host.js';
import { bootPlatform, onShutdown, type Platform } from './platform.js';

interface ServeOptions {
  /**
   * The event catalog (eventing/catalog.ts), or its loader: loaded only for a function that can
   * emit (its product has an outbox) or receives events.
   */
  catalog?: EventSchemasSource;
  /** Extra relay settings (tests shorten the lease). */
  relay?: Partial<Omit<RelayOptions, 'database' | 'product' | 'sink' | 'log'>>;
}

interface ServedFunction {
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
  poolGauges(platform.metrics, database, decl.name);
  if (hasOutbox) outboxGauges(platform.metrics, database, decl.product);
  const catalog = hasOutbox || decl.subscribes?.length ? await resolveEventSchemas(opts.catalog) : undefined;
  const sink = config.sink;
  const relay = sink && hasOutbox
    ? await startOutboxRelay({ database, product: decl.product, sink, log, ...opts.relay })
    : undefined;
  const events = createEventPublisher({
    product: decl.product,
    source: `/${decl.product}/${decl.name.slice(decl.product.length + 1)}`,
    check: (e: OutgoingEvent) => {
      assertDeclaredEmit(decl, e.type);
      catalog?.checkOutgoing(e);
    },
    // With a relay in this pod, wake it directly; without one, NOTIFY wakes whichever relay runs.
    ...(relay ? { wake: () => relay.hint() } : {}),
  });
  try {
    return { hosted: await hostFunction(decl, { ...platform, events, catalog: catalog ?? opts.catalog, relay }), relay };
  } catch (err) {
    await relay?.stop();
    throw err;
  }
}

async function stopHosted({ hosted, relay }: { hosted: HostedFunction; relay: OutboxRelay | undefined }): Promise<void> {
  await relay?.stop();
  await hosted.module.shutdown?.();
}

interface RunOptions {
  /** The event catalog or its loader (see ServeOptions). */
  catalog?: EventSchemasSource;
  /** A platform already booting (a bundle's start opens the database before this module loads). */
  booting?: Promise<Platform>;
}

/**
 * Boots the platform (or takes the one `opts.booting` started) and serves `decl` until SIGTERM. A
 * bundled function starts here through cli/fn-start.ts, which opens the database before this module loads.
 */
export async function runFunction(decl: FunctionDeclaration, opts: RunOptions = {}): Promise<void> {
  // The function's module starts loading while the platform boots (its files are read and compiled
  // while the database connects); a failure surfaces where serveFunction awaits the same load.
  decl.load().catch(() => {});
  const platform = await (opts.booting ?? bootPlatform());
  const served = await serveFunction(decl, platform, { catalog: opts.catalog });
  onShutdown(platform.log, async () => {
    await served.stop();
    await platform.database.close();
  });
}
