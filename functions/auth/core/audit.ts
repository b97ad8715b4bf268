// The audit trail: one row per security-relevant action (who, what, tenant, client, source IP,
// user agent, request id, outcome). Rows about state changes are written in the change's
// transaction; the high-volume "token issued" rows are group-committed, and the token waits for
// its row: audit or fail.
import { sql } from 'drizzle-orm';
import type { Db, Queryable } from '#shared/db/index';
import type { Logger } from '#shared/log/index';
import { audit } from './schema.js';

/** Where a request came from, as the audit trail records it. */
export interface RequestMeta {
  ip: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
}

export interface AuditEntry {
  tenantId: string | null;
  action: string;
  outcome: 'success' | 'failure';
  actor?: string | null;
  clientId?: string | null;
  detail?: Record<string, unknown>;
}

const clip = (v: string | undefined | null, n = 512) => (v == null ? null : v.slice(0, n));

function row(entry: AuditEntry, meta: RequestMeta) {
  return {
    tenantId: entry.tenantId,
    action: entry.action,
    outcome: entry.outcome,
    actor: clip(entry.actor, 256),
    clientId: clip(entry.clientId, 256),
    ip: clip(meta.ip, 64),
    userAgent: clip(meta.userAgent),
    requestId: clip(meta.requestId, 128),
    detail: entry.detail ?? null,
  };
}

/** The same row with the column names the batch insert's jsonb_to_recordset expects. */
function snakeRow(entry: AuditEntry, meta: RequestMeta) {
  return {
    tenant_id: entry.tenantId,
    action: entry.action,
    outcome: entry.outcome,
    actor: clip(entry.actor, 256),
    client_id: clip(entry.clientId, 256),
    ip: clip(meta.ip, 64),
    user_agent: clip(meta.userAgent),
    request_id: clip(meta.requestId, 128),
    detail: entry.detail ?? null,
  };
}

/** Writes one audit row in `q` (the transaction of the change it records). */
export async function recordAudit(q: Queryable, entry: AuditEntry, meta: RequestMeta): Promise<void> {
  await q.insert(audit).values(row(entry, meta));
}

export interface AuditBuffer {
  /**
   * Queues a row; resolves once it is committed, rejects with `AuditUnavailable` when it could
   * not be written after the retries. Callers await it before they answer (audit or fail).
   */
  add(entry: AuditEntry, meta: RequestMeta): Promise<void>;
  /** Writes what is queued; never rejects (the waiters of each row learn the outcome). */
  flush(): Promise<void>;
}

/** The audit row could not be written: the action it records must be refused. */
export class AuditUnavailable extends Error {
  readonly code = 'audit_unavailable';
  constructor(cause: unknown) {
    super('The audit trail cannot be written.', { cause });
  }
}

interface Waiter {
  row: ReturnType<typeof snakeRow>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Group commit of audit rows for the token endpoint's hot path: the rows queued while one insert
 * runs go out together in the next, one jsonb parameter for the whole batch. Each caller waits
 * for its own row: a transient database error is retried (`retryDelaysMs`), and when the row
 * still cannot be written the caller is told, so no token leaves without its audit row.
 */
export function createAuditBuffer(db: Db, log: Logger, opts: { maxRows?: number; retryDelaysMs?: readonly number[] } = {}): AuditBuffer {
  const maxRows = opts.maxRows ?? 500;
  const retryDelaysMs = opts.retryDelaysMs ?? [20, 100, 400];
  let pending: Waiter[] = [];
  let running: Promise<void> | undefined;

  const insert = (batch: Waiter[]) =>
    db.execute(sql`insert into auth.audit (tenant_id, action, outcome, actor, client_id, ip, user_agent, request_id, detail)
      select tenant_id, action, outcome, actor, client_id, ip, user_agent, request_id, detail
      from jsonb_to_recordset(${JSON.stringify(batch.map((w) => w.row))}::jsonb) as x(tenant_id uuid, action text, outcome text, actor text,
        client_id text, ip text, user_agent text, request_id text, detail jsonb)`);

  async function writeBatch(batch: Waiter[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await insert(batch);
        for (const w of batch) w.resolve();
        return;
      } catch (err) {
        const delay = retryDelaysMs[attempt];
        if (delay === undefined) {
          log.error('audit batch not written; its actions are refused', { rows: batch.length, err });
          for (const w of batch) w.reject(new AuditUnavailable(err));
          return;
        }
        await wait(delay);
      }
    }
  }

  /** Drains the queue one batch at a time; a single drain runs at once. */
  function drain(): Promise<void> {
    running ??= (async () => {
      // Let the requests of this event-loop turn join the batch.
      await new Promise<void>((r) => setImmediate(r));
      while (pending.length) {
        const batch = pending.slice(0, maxRows);
        pending = pending.slice(batch.length);
        await writeBatch(batch);
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    add(entry, meta) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ row: snakeRow(entry, meta), resolve, reject });
        void drain();
      });
    },
    async flush() {
      while (running || pending.length) await drain();
    },
  };
}
