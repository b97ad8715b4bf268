// The data layer's part of /readyz and /healthz. A pool whose every connection has been held with
// none handed back for the pool wait deadline serves nothing: the process is not ready (and the
// probe answers at once instead of queuing behind the pool). Held that way past the stall
// liveness threshold, long after the server's own timeouts should have freed a connection, it is
// stuck for good: the process is not alive, and the orchestrator restarts it.
import type { Database } from './index.js';

/** One named check, as /readyz and /healthz list them. */
interface ProbeCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

const stalledDetail = (stalledMs: number, size: number, waiting: number) =>
  `all ${size} connections held for ${Math.round(stalledMs)} ms with none handed back; ${waiting} waiting`;

/** True while every connection has been held, none handed back, for the pool wait deadline. */
export function poolStalled(database: Database): boolean {
  return database.health().stalledMs >= database.settings.poolWaitMs;
}

/** Readiness: the pool is not stalled, then the database answers and the migrations are applied. */
export async function databaseReadiness(database: Database, migrationsApplied: () => Promise<boolean>): Promise<ProbeCheck[]> {
  const pool = database.health();
  if (poolStalled(database)) {
    return [{ name: 'database pool', ok: false, detail: stalledDetail(pool.stalledMs, pool.size, pool.waiting) }];
  }
  const [reachable, migrated] = await Promise.all([database.ping(), migrationsApplied()]);
  return [
    { name: 'database pool', ok: true },
    { name: 'database', ok: reachable },
    { name: 'migrations', ok: migrated },
  ];
}

/** Liveness: the pool has not been stalled past the stall liveness threshold. */
export function databaseLiveness(database: Database): ProbeCheck[] {
  const pool = database.health();
  if (pool.stalledMs < database.settings.stallLivenessMs) return [{ name: 'database pool', ok: true }];
  return [{ name: 'database pool', ok: false, detail: stalledDetail(pool.stalledMs, pool.size, pool.waiting) }];
}
