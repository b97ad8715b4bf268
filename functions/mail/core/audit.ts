// The audit trail of security-relevant actions (who, what, tenant, source IP, outcome, request id).
import type { Queryable } from '#shared/db/index';
import { audit } from './schema.js';

interface AuditEntry {
  tenant: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  requestId?: string | undefined;
  sourceIp?: string | undefined;
}

export async function writeAudit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.insert(audit).values({ ...e, requestId: e.requestId ?? null, sourceIp: e.sourceIp ?? null });
}
