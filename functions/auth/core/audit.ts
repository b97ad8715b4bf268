// The audit trail: one row per security-relevant action (who, what, tenant, client, source IP,
// user agent, request id, outcome). Rows about state changes are written in the change's
// transaction; the high-volume "token issued" rows go through a short batching buffer.
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
  add(entry: AuditEntry, meta: RequestMeta): void;
  flush(): Promise<void>;
}

/**
 * Batches audit rows for the token endpoint's hot path: one multi-row insert every `intervalMs`
 * or `maxRows`. A crash loses at most one interval of "token issued" rows (the tokens themselves
 * are stateless JWTs); everything that changes state is audited transactionally instead.
 */
export function createAuditBuffer(db: Db, log: Logger, opts: { intervalMs?: number; maxRows?: number } = {}): AuditBuffer {
  const intervalMs = opts.intervalMs ?? 50;
  const maxRows = opts.maxRows ?? 500;
  let pending: ReturnType<typeof snakeRow>[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!pending.length) return inflight;
    const batch = pending;
    pending = [];
    // One jsonb parameter instead of ten per row: building a wide multi-row VALUES costs more.
    inflight = inflight
      .then(() =>
        db.execute(sql`insert into auth.audit (tenant_id, action, outcome, actor, client_id, ip, user_agent, request_id, detail)
          select tenant_id, action, outcome, actor, client_id, ip, user_agent, request_id, detail
          from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as x(tenant_id uuid, action text, outcome text, actor text,
            client_id text, ip text, user_agent text, request_id text, detail jsonb)`),
      )
      .then(
        () => undefined,
        (err: unknown) => log.error('audit batch lost', { rows: batch.length, err }),
      );
    return inflight;
  };

  return {
    add(entry, meta) {
      pending.push(snakeRow(entry, meta));
      if (pending.length >= maxRows) void flush();
      else if (!timer) timer = setTimeout(flush, intervalMs);
    },
    flush,
  };
}
