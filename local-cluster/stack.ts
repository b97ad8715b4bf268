// The whole stack on one port, as `npm start` runs it: ZenoIngress on that port routes by the
// Gateway and the HTTPRoutes the manifest generator writes for a cluster (./local-gateway.ts)
// to each function, served on a loopback port of its own as its pod serves it; beside them the
// local Broker (ingress, dispatcher, Triggers from the declarations, schedules) and one outbox
// relay per product that has an outbox, all pointed at the local broker ($K_SINK).
import { Hono } from 'hono';
import type { EventCatalog } from '#eventing/catalog';
import {
  BROKER_PREFIX,
  DEFAULT_BROKER,
  createEventAcceptor,
  createBrokerIngress,
  startDispatcher,
  startPingSource,
  triggersFromDeclarations,
  type Dispatcher,
  type DispatcherOptions,
  type Trigger,
} from '#eventing/broker/index';
import type { Endpoint } from '#functions/ingress/index';
import { createIngress, keyOf } from '#functions/ingress/index';
import { HTTP_LISTENER_PORT } from '#manifests/index';
import type { WireEvent } from '#shared/events/cloudevent';
import { DEAD_LETTER_PATH } from '#shared/events/dead-letter';
import { createEventPublisher } from '#shared/events/outbox';
import { createEventSender, type SendResult } from '#shared/events/sender';
import { productsWithOutbox, startOutboxRelay, type OutboxRelay, type RelayOptions } from '#shared/events/relay';
import { assertDeclaredEmit, type FunctionDeclaration } from '#shared/function/define';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import type { Platform } from '#shared/function/platform';
import { listen, type FetchHandler, type RunningServer } from '#shared/http/serve';
import { callerAddress, INTERNAL_PREFIX, serveInternal } from './internal.js';
import { compileLocal, localResources, LOCAL_OPTIONS, STACK_BACKEND } from './local-gateway.js';
import { createLocalSender } from './local-sender.js';
import { serveLocalRoutes } from './local-routes.js';

export interface StackOptions {
  platform: Platform;
  declarations: readonly FunctionDeclaration[];
  /** Event types and payload schemas (default: the project's catalog, eventing/catalog.ts). */
  catalog?: EventCatalog;
  /** Extra relay and dispatcher settings (tests shorten leases and timers). */
  relay?: Partial<Omit<RelayOptions, 'database' | 'product' | 'sink' | 'log'>>;
  dispatcher?: Partial<Omit<DispatcherOptions, 'database' | 'triggers' | 'log'>>;
  /** Start the outbox relays (default true; a test runs the producer's relay in another process). */
  relays?: boolean;
  /**
   * Where dead letters are also sent (Knative `deadLetterSink`); they are always kept in
   * eventing.dead_letters. Default: the dead-letter function, when it is one of `declarations`.
   */
  deadLetterSink?: string;
  /** How often each product's outbox is swept, as the PingSource does in a cluster (default 60 s). */
  sweepMs?: number;
  /** The functions' environment (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Hand events between the relay, the broker and the subscribing functions of this process
   * directly (default true). False sends every hop over loopback HTTP, as in a cluster.
   */
  inProcess?: boolean;
  /** The schedules' clock (default the system's): a test moves it to just before a cron tick. */
  now?: () => Date;
  /**
   * A directory whose `routes/` manifests are served beside the stack's own routes and reloaded on
   * change, with ZenoIngress's report on them in its `status.json` (./local-routes.ts; `npm start`
   * gives `<data dir>/ingress`, where `zenokube apply` writes). None by default.
   */
  localRoutes?: string;
}

export interface RunningStack {
  /** The port the ingress listens on (the configured one, or the one the OS picked for 0). */
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the loopback base the broker and relays use. */
  readonly localUrl: string;
  readonly brokerUrl: string;
  readonly hosted: readonly HostedFunction[];
  readonly triggers: readonly Trigger[];
  readonly relays: ReadonlyMap<string, OutboxRelay>;
  readonly dispatcher: Dispatcher;
  /** Stops in dependency order; events in flight finish or stay pending. Does not close the database. */
  stop(): Promise<void>;
}

const sourceOf = (decl: FunctionDeclaration) => `/${decl.product}/${decl.name.slice(decl.product.length + 1)}`;

export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const { platform } = opts;
  const { config, log, database } = platform;
  // The project's catalog loads when the stack starts, not when its module is imported.
  const catalog = opts.catalog ?? (await import('#eventing/catalog')).catalog;

  const products = [...new Set(opts.declarations.map((d) => d.product))];
  const withOutbox = new Set(await productsWithOutbox(database, products));
  const relays = new Map<string, OutboxRelay>();
  const hosted: HostedFunction[] = [];
  // The stack's own endpoints (the broker) on a loopback port, answering 503 until the broker is
  // up. Known before the functions start, so that an emitting function gets it as $K_SINK, as
  // its SinkBinding gives it one in a cluster.
  let stackHandler: FetchHandler = () => new Response('starting', { status: 503, headers: { 'retry-after': '1' } });
  const stackServer = await listen((req, env) => stackHandler(req, env), { port: 0, host: '127.0.0.1' });
  const emitterConfig = Object.freeze({ ...config, sink: config.sink ?? `http://127.0.0.1:${stackServer.port}${BROKER_PREFIX}/${DEFAULT_BROKER}` });
  // Each function on a loopback port of its own, as its pod serves it, bound before the functions
  // start: a variable naming another function's Service (EnvDeclaration.service) gets that port,
  // as the Service's DNS name reaches the pods directly in a cluster (not through the ingress).
  const servers: RunningServer[] = [];
  const slots = new Map<string, { handler: FetchHandler; server: RunningServer }>();
  for (const decl of opts.declarations) {
    const slot = { handler: stackHandler, server: undefined as unknown as RunningServer };
    slot.server = await listen((req, env) => slot.handler(req, env), { port: 0, host: '127.0.0.1' });
    slots.set(decl.name, slot);
    servers.push(slot.server);
  }
  const baseEnv = opts.env ?? process.env;
  const envOf = (decl: FunctionDeclaration): Record<string, string | undefined> => {
    const direct: Record<string, string> = {};
    for (const [key, spec] of Object.entries(decl.env ?? {})) {
      const target = spec.service === undefined ? undefined : slots.get(spec.service);
      if (target && !baseEnv[key]) direct[key] = `http://127.0.0.1:${target.server.port}`;
    }
    return Object.keys(direct).length ? { ...baseEnv, ...direct } : baseEnv;
  };
  for (const decl of opts.declarations) {
    const events = createEventPublisher({
      product: decl.product,
      source: sourceOf(decl),
      check: (e) => {
        assertDeclaredEmit(decl, e.type);
        catalog.checkOutgoing(e);
      },
      // The product's relay runs in this process: wake it directly rather than by NOTIFY.
      wake: opts.relays === false ? undefined : () => relays.get(decl.product)?.hint(),
    });
    const relay = withOutbox.has(decl.product) ? { flush: () => relays.get(decl.product)?.flush() ?? Promise.resolve(0) } : undefined;
    const fnConfig = decl.emits?.length ? emitterConfig : config;
    try {
      hosted.push(await hostFunction(decl, { ...platform, config: fnConfig, events, catalog, relay, env: envOf(decl) }));
    } catch (err) {
      await Promise.all(servers.map((s) => s.close()));
      await stackServer.close();
      for (const h of hosted) await h.module.shutdown?.();
      throw err;
    }
  }

  const backends = new Map<string, Endpoint>();
  for (const h of hosted) {
    const slot = slots.get(h.declaration.name)!;
    slot.handler = h.app.fetch;
    backends.set(h.declaration.name, { host: '127.0.0.1', port: slot.server.port });
  }
  servers.push(stackServer);
  backends.set(STACK_BACKEND, { host: '127.0.0.1', port: stackServer.port });

  // ZenoIngress binds the Gateway's HTTP listener at HOST:PORT (0 picks a port).
  const ingress = createIngress({
    bind: () => [{ host: config.host, port: config.port }],
    onProblem: (problem) => log.warn('ingress problem', { problem }),
  });
  const baseSet = localResources(opts.declarations, backends);
  await ingress.apply(compileLocal(baseSet));
  const bound = ingress.address(keyOf({ metadata: LOCAL_OPTIONS.gateway }), HTTP_LISTENER_PORT);
  if (!bound) {
    await ingress.close();
    await Promise.all(servers.map((s) => s.close()));
    for (const h of hosted) await h.module.shutdown?.();
    throw new Error(`cannot listen on ${config.host}:${config.port}`);
  }
  // Started once the port is bound: a stack that fails to start leaves no watcher behind.
  const localRoutes = opts.localRoutes ? serveLocalRoutes({ dir: opts.localRoutes, base: baseSet, ingress, log }) : undefined;
  await localRoutes?.ready;
  const localUrl = `http://127.0.0.1:${bound.port}`;
  const brokerUrl = `${localUrl}${BROKER_PREFIX}/${DEFAULT_BROKER}`;
  const sink = config.sink ?? brokerUrl;

  // Every Trigger's deadLetterSink is the dead-letter function, as the generated Triggers say.
  const deadLetterFn = opts.declarations.find((d) => d.name === LOCAL_OPTIONS.deadLetterService);
  const deadLetterSink = opts.deadLetterSink ?? (deadLetterFn ? `${localUrl}${INTERNAL_PREFIX}${deadLetterFn.name}${DEAD_LETTER_PATH}` : undefined);
  const triggers = triggersFromDeclarations(opts.declarations, { subscriberBase: `${localUrl}/_fn`, deadLetterSink });
  let dispatcher: Dispatcher | undefined;
  // The dispatcher of this process takes new deliveries straight from the acceptor's commit.
  const accept = createEventAcceptor(database, triggers, {
    onStored: () => dispatcher?.wake(),
    handoff: {
      get leaseMs() {
        return dispatcher?.handoff.leaseMs ?? 0;
      },
      reserve: (n) => dispatcher?.handoff.reserve(n) ?? { size: 0, deliver: () => {} },
    },
  });
  const brokerIngress = createBrokerIngress({ database, triggers, log, bodyLimitBytes: config.bodyLimitBytes, accept });
  const root = new Hono();
  root.get('/healthz', (c) => c.json({ status: 'ok' }));
  root.get('/readyz', async (c) => {
    const ok = await database.ping();
    return c.json({ status: ok ? 'ready' : 'not ready', functions: hosted.map((h) => h.declaration.name) }, ok ? 200 : 503);
  });
  root.route('/', brokerIngress);
  const byName = new Map(hosted.map((h) => [h.declaration.name, h]));
  stackHandler = (req, env) => {
    // The broker and the internal paths judge the caller by its address: give them the client's.
    const caller = { incoming: { socket: { remoteAddress: callerAddress(req, env) } } };
    if (new URL(req.url).pathname.startsWith(INTERNAL_PREFIX)) return serveInternal(byName, req, caller) ?? root.fetch(req, caller);
    return root.fetch(req, caller);
  };

  // Subscribers are functions of this process: deliveries go to their apps directly (same
  // request, same answer classification) rather than through a loopback socket; an external
  // dead-letter sink still gets HTTP.
  const httpSender = createEventSender();
  const direct = opts.inProcess !== false;
  const sender = direct ? createLocalSender({ localUrl, hosted, fallback: httpSender }) : httpSender;
  dispatcher = await startDispatcher({ database, triggers, log, sender, ...opts.dispatcher });
  const started = dispatcher;
  // With no external $K_SINK the sink is this process's broker: hand events to its ingress
  // directly (the same store-then-acknowledge contract, without an HTTP round trip). The store
  // need not wait for its WAL flush: the outbox row, deleted only afterwards, stays the durable
  // copy (see AcceptEvent).
  const inProcess = config.sink || !direct
    ? undefined
    : async (event: WireEvent): Promise<SendResult> => {
        try {
          await accept(DEFAULT_BROKER, { ...event.attributes }, event.data, { durable: false });
          return { ok: true, status: 202, retryable: false, error: undefined };
        } catch (err) {
          return { ok: false, status: undefined, retryable: true, error: `broker: ${(err as Error).message}`.slice(0, 300) };
        }
      };
  for (const product of opts.relays === false ? [] : withOutbox) {
    relays.set(product, await startOutboxRelay({ database, product, sink, log, deliver: inProcess, ...opts.relay }));
  }
  // The outbox sweep the PingSource runs in a cluster (manifests/sources.ts outboxSweep).
  const sweepMs = opts.sweepMs ?? 60_000;
  const sweep = setInterval(() => {
    for (const [product, relay] of relays) relay.flush().catch((err: unknown) => log.warn('outbox sweep failed', { product, err }));
  }, sweepMs);
  sweep.unref();
  const ping = startPingSource({
    declarations: opts.declarations,
    ...(opts.now ? { now: opts.now } : {}),
    log,
    send: async (attributes, data) => {
      await accept(DEFAULT_BROKER, attributes, data);
    },
  });

  return {
    port: bound.port,
    localUrl,
    brokerUrl,
    hosted,
    triggers,
    relays,
    dispatcher: started,
    async stop() {
      clearInterval(sweep);
      ping.stop();
      localRoutes?.stop();
      // Producers first (their deliveries need the broker), then the broker, then the functions.
      await Promise.all([...relays.values()].map((r) => r.stop()));
      await started.stop();
      await sender.close();
      // The ingress drains the requests in flight, then the servers behind it close.
      await ingress.close();
      await Promise.all(servers.map((s) => s.close()));
      for (const h of hosted) await h.module.shutdown?.();
    },
  };
}
