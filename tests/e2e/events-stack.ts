// Test support: the `npm start` stack (local-cluster/stack.ts) on a test database with the two fixture
// functions, a port picked by the OS, short leases and timers, and helpers to wait on effects.
import { sql } from 'drizzle-orm';
import { startStack, type RunningStack, type StackOptions } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, loadedDir } from '#shared/function/discover';
import { silentLogger, type Logger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { fixtureCatalog } from '#tests/fixtures/functions/fixture/core/events';

const FIXTURE_FUNCTIONS = loadedDir(projectRoot(), 'tests', 'fixtures', 'functions');

export async function startFixtureStack(
  database: Database,
  extra: Partial<StackOptions> = {},
  env: Record<string, string> = {},
  log: Logger = silentLogger,
): Promise<RunningStack> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error', ...env });
  const declarations = await discoverFunctions(FIXTURE_FUNCTIONS);
  return startStack({
    platform: { config, log, metrics: createMetrics({ defaults: false }), database },
    declarations,
    catalog: fixtureCatalog,
    relay: { idleMs: 500, backoffMs: 50, leaseMs: 2_000 },
    dispatcher: { idleMs: 500, leaseMs: 5_000 },
    ...extra,
  });
}

export { waitFor } from '#tests/support/poll';

export async function count(database: Database, query: ReturnType<typeof sql>): Promise<number> {
  const rows = await database.query<{ n: number | string }>(query);
  return Number(rows[0]?.n ?? 0);
}

export async function postNote(baseUrl: string, body: Record<string, unknown>): Promise<{ id: string; eventId: string }> {
  const res = await fetch(`${baseUrl}/fixture/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`POST /fixture/notes answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; eventId: string };
}
