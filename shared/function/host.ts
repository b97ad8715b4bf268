// Hosts one declared function: validates its env, builds its context, wraps its app in the
// platform contract. Used alike by `zenokube fn <name>` (one pod) and by the local runner.
import { Hono } from 'hono';
import { ConfigError, type PlatformConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import { migrationsApplied } from '#shared/db/migrate';
import { databaseLiveness, databaseReadiness, poolStalled } from '#shared/db/probes';
import type { EventPublisher } from '#shared/events/publisher';
import { createEventReceiver } from '#shared/events/receive';
import { resolveEventSchemas, type EventSchemasSource } from '#shared/events/schemas';
import { createPlatformApp, type AppEnv, type ReadinessCheck } from '#shared/http/app';
import type { Logger } from '#shared/log/index';
import type { Metrics } from '#shared/metrics/index';
import { OUTBOX_FLUSH_PATH, type FunctionContext, type FunctionDeclaration, type FunctionModule } from './define.js';

export interface HostedFunction {
  readonly declaration: FunctionDeclaration;
  readonly context: FunctionContext;
  /** The platform-wrapped app: /healthz, /readyz, /metrics and the function's routes. */
  readonly app: Hono<AppEnv>;
  readonly module: FunctionModule;
}

interface HostDeps {
  config: PlatformConfig;
  database: Database;
  log: Logger;
  metrics: Metrics;
  events: EventPublisher;
  env?: Record<string, string | undefined>;
  /**
   * Event types and payload schemas for received events (the project's catalog, eventing/catalog.ts),
   * or its loader: a function that receives no events never calls it. Required when it receives.
   */
  catalog?: EventSchemasSource;
  /** The product's outbox relay, when one runs: the app then serves `POST /_outbox/flush`. */
  relay?: { flush(): Promise<number> };
}


/** Mounts the platform's event routes in front of the function's own app. */
async function withEventRoutes(inner: Hono<any>, decl: FunctionDeclaration, module: FunctionModule, context: FunctionContext, deps: HostDeps): Promise<Hono<any>> {
  const handlers = module.events?.(context);
  if (!handlers && !deps.relay) return inner;
  const outer = new Hono();
  if (handlers) {
    const catalog = await resolveEventSchemas(deps.catalog);
    if (!catalog) throw new TypeError(`${decl.name} receives events: host it with the event catalog (HostDeps.catalog)`);
    const receive = createEventReceiver({
      database: deps.database,
      product: decl.product,
      catalog,
      handlers,
      log: context.log,
    });
    const paths = new Set(['/_events', ...(decl.subscribes ?? []).map((s) => s.path ?? '/_events')]);
    for (const path of paths) outer.post(path, receive);
  }
  const relay = deps.relay;
  if (relay) outer.post(OUTBOX_FLUSH_PATH, async (c) => c.json({ delivered: await relay.flush() }));
  outer.route('/', inner);
  return outer;
}

/** Validates the variables a declaration lists; every missing required one is reported at once. */
export function resolveFunctionEnv(
  decl: FunctionDeclaration,
  env: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(decl.env ?? {})) {
    const value = env[key] === '' ? undefined : env[key] ?? spec.value;
    if (value === undefined && spec.required) missing.push(`${key}: required (${spec.description})`);
    out[key] = value;
  }
  if (missing.length) throw new ConfigError(missing.map((m) => `${decl.name} ${m}`));
  return Object.freeze(out);
}

/** Loads the function's module and builds its platform app. */
export async function hostFunction(decl: FunctionDeclaration, deps: HostDeps): Promise<HostedFunction> {
  const log = deps.log.child({ fn: decl.name });
  const context: FunctionContext = Object.freeze({
    name: decl.name,
    config: deps.config,
    env: resolveFunctionEnv(decl, deps.env ?? process.env),
    database: deps.database,
    log,
    metrics: deps.metrics,
    events: deps.events,
  });
  const module = await decl.load();
  const inner = await withEventRoutes(await module.createApp(context), decl, module, context, deps);
  const readiness = async (): Promise<ReadinessCheck[]> => {
    const checks: ReadinessCheck[] = await databaseReadiness(deps.database, () => migrationsApplied(deps.database));
    // A stalled pool answers nothing: the function's own checks would only queue behind it.
    if (module.readiness && !poolStalled(deps.database)) checks.push(...(await module.readiness(context)));
    return checks;
  };
  const app = createPlatformApp(inner, {
    name: decl.name,
    log,
    metrics: deps.metrics,
    bodyLimitBytes: deps.config.bodyLimitBytes,
    readiness,
    liveness: () => databaseLiveness(deps.database),
    renderError: module.renderError,
  });
  return { declaration: decl, context, app, module };
}
