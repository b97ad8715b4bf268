// Boot steps shared by `zenokube fn` and `zenokube start`: config, logger, metrics, database.
import { loadConfig, type PlatformConfig } from '#shared/config/index';
import { openDatabase, type Database } from '#shared/db/index';
import { createLogger, type Logger } from '#shared/log/index';
import { createDeferredMetrics } from '#shared/metrics/deferred';
import type { Metrics } from '#shared/metrics/index';

export interface Platform {
  config: PlatformConfig;
  log: Logger;
  metrics: Metrics;
  database: Database;
}

/**
 * Reads the configuration and opens the database. `onConnecting` is called once the database
 * connection is under way (see OpenOptions), so that a cold start can load its code meanwhile.
 */
export async function bootPlatform(env: Record<string, string | undefined> = process.env, onConnecting?: () => void): Promise<Platform> {
  const config = loadConfig(env);
  const log = createLogger({ level: config.logLevel });
  // prom-client loads after the cold start (first scrape, or 10 s in), not on the start path.
  const metrics = createDeferredMetrics();
  const database = await openDatabase({ url: config.databaseUrl, listenUrl: config.databaseListenUrl, dataDir: config.dataDir, settings: config.database, onConnecting });
  return { config, log, metrics, database };
}

/**
 * How long a stop may take before the process exits anyway: under Kubernetes' default 30 s grace
 * period, so the pod ends by its own exit rather than by SIGKILL.
 */
const SHUTDOWN_DEADLINE_MS = 25_000;

/** Runs `stop` once on SIGTERM or SIGINT, then exits; exits with 1 if `stop` outlasts the deadline. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    setTimeout(() => {
      log.error('shutdown outlasted its deadline; exiting', { deadlineMs: SHUTDOWN_DEADLINE_MS });
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}
