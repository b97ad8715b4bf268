// The database's connection budget, computed from the function declarations: what every pod may
// open (its pool through the Pooler, one LISTEN connection to the primary) at max scale plus a
// rollout's extra pod, against what the Pooler accepts and what PostgreSQL allows.
import type { FunctionDeclaration } from '#shared/function/define';
import { DEFAULT_DATABASE_POOL } from '#shared/function/runtime';
import type { DatabaseClusterOptions } from './options.js';

/** One consumer of connections. */
interface BudgetLine {
  who: string;
  pods: number;
  /** Connections each pod may hold. */
  each: number;
  connections: number;
}

interface ConnectionBudget {
  /** Client connections to the Pooler: each function's pool × its pods. */
  pooled: BudgetLine[];
  pooledTotal: number;
  /** `max_client_conn` of one Pooler instance. */
  poolerClientCapacity: number;
  /** Server connections the Pooler opens at most: instances × (pool + reserve). */
  poolerServerConnections: number;
  /** Connections straight to the primary: LISTEN of every pod, the migration Job. */
  direct: BudgetLine[];
  directTotal: number;
  /** `max_connections` less the reserved ones. */
  serverCapacity: number;
  /** Empty when the budget holds. */
  problems: string[];
}

/**
 * Pods a function may run: its max scale, plus one while a rollout starts the new revision (or
 * replica) before the old one has drained.
 */
function podsAtMost(decl: FunctionDeclaration): number {
  return decl.scaling.maxScale + 1;
}

const sum = (lines: BudgetLine[]) => lines.reduce((n, l) => n + l.connections, 0);

/**
 * The budget of `decls` on cluster `c`. Every client may land on one Pooler instance (the
 * Service spreads connections by chance, and an instance that is down sends its clients to
 * another), so one instance's `max_client_conn` must take them all.
 */
export function connectionBudget(decls: readonly FunctionDeclaration[], c: DatabaseClusterOptions): ConnectionBudget {
  const pooled = decls.map((d) => {
    const pods = podsAtMost(d);
    const each = d.runtime?.databasePool ?? DEFAULT_DATABASE_POOL;
    return { who: d.name, pods, each, connections: pods * each };
  });
  const direct = [
    ...decls.map((d) => ({ who: `${d.name} (LISTEN)`, pods: podsAtMost(d), each: 1, connections: podsAtMost(d) })),
    { who: 'migration Job', pods: 1, each: 1, connections: 1 },
  ];
  const p = c.pooler;
  const budget = {
    pooled,
    pooledTotal: sum(pooled),
    poolerClientCapacity: p.maxClientConn,
    poolerServerConnections: p.instances * (p.defaultPoolSize + p.reservePoolSize),
    direct,
    directTotal: sum(direct),
    serverCapacity: c.maxConnections - c.reservedConnections,
    problems: [] as string[],
  };
  if (budget.pooledTotal > budget.poolerClientCapacity) {
    const top = [...pooled].sort((a, b) => b.connections - a.connections).slice(0, 3);
    budget.problems.push(
      `database budget: the functions may open ${budget.pooledTotal} connections to the Pooler (pool × (maxScale + 1); ` +
        `largest: ${top.map((l) => `${l.who} ${l.each} × ${l.pods}`).join(', ')}), over its max_client_conn of ${p.maxClientConn}: ` +
        'lower runtime.databasePool or scaling.maxScale, or raise the Pooler\'s maxClientConn',
    );
  }
  const server = budget.poolerServerConnections + budget.directTotal;
  if (server > budget.serverCapacity) {
    budget.problems.push(
      `database budget: ${server} server connections (Pooler ${p.instances} × (${p.defaultPoolSize} + ${p.reservePoolSize}) = ${budget.poolerServerConnections}, ` +
        `direct ${budget.directTotal}: one LISTEN per pod and the migration Job) exceed max_connections ${c.maxConnections} less ${c.reservedConnections} reserved: ` +
        'raise maxConnections, or lower the Pooler\'s pool or the functions\' maxScale',
    );
  }
  return budget;
}
