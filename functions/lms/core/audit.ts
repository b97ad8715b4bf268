// The audit trail: one row per admin action, written in the transaction of the change it records
// (a refused action has its own row, written on its own).
import type { Queryable } from '#shared/db/index';
import type { Actor } from './runtime.js';
import { audit } from './schema.js';

const clip = (v: string | null | undefined, n: number) => (v == null ? null : v.slice(0, n));

export async function recordAudit(
  q: Queryable,
  tenant: string,
  actor: Actor,
  entry: { action: string; target?: string | null; outcome?: 'success' | 'failure'; detail?: Record<string, unknown> },
): Promise<void> {
  await q.insert(audit).values({
    tenant,
    action: entry.action,
    outcome: entry.outcome ?? 'success',
    actor: clip(actor.sub, 256),
    target: clip(entry.target, 256),
    ip: clip(actor.ip, 64),
    requestId: clip(actor.requestId, 128),
    detail: entry.detail ?? null,
  });
}
