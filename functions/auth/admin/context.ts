// Per-request helpers of the admin API: the admin's token, the audit metadata, the tenant.
import type { Context } from 'hono';
import { notFound } from '#shared/http/errors';
import { requireAdminToken } from '../core/admin-auth.js';
import type { AuditEntry, RequestMeta } from '../core/audit.js';
import { recordAudit } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';
import { findTenantBySlug } from '../core/tenants.js';
import { requestMeta } from '../web/request.js';
import type { Queryable } from '#shared/db/index';
import type { OutgoingEvent } from '#shared/events/publisher';

interface AdminRequest {
  actor: string;
  meta: RequestMeta;
  /** Writes the audit row and the event in `tx`, the transaction of the change. */
  record(tx: Queryable, entry: Omit<AuditEntry, 'actor' | 'outcome'>, event: OutgoingEvent): Promise<void>;
}

export async function admin(c: Context, rt: AuthRuntime): Promise<AdminRequest> {
  const claims = await requireAdminToken(rt, c.req.header('authorization'));
  const meta = requestMeta(c, rt);
  return {
    actor: claims.sub,
    meta,
    record: async (tx, entry, event) => {
      await recordAudit(tx, { ...entry, actor: `admin:${claims.sub}`, outcome: 'success' }, meta);
      await rt.events.emit(tx, event);
    },
  };
}

/** The tenant named in the path (read fresh, not from the short cache: admins see changes at once). */
export async function pathTenant(c: Context, rt: AuthRuntime): Promise<Tenant> {
  const tenant = await findTenantBySlug(rt.db, c.req.param('tenant') ?? '');
  if (!tenant) throw notFound('No such tenant.');
  return tenant;
}
