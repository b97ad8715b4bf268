// Admin API: a tenant's second-factor policy (optional, required, or required for members of groups).
import type { Hono } from 'hono';
import { and, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { AppError } from '#shared/http/errors';
import { recordAudit } from '../core/audit.js';
import { findMfaPolicy, saveMfaPolicy } from '../core/mfa-policy.js';
import type { AuthRuntime } from '../core/runtime.js';
import { groups } from '../core/schema.js';
import { adminBody } from './json.js';
import { admin, pathTenant } from './context.js';

const policyBody = z.object({
  mode: z.enum(['optional', 'required', 'groups']),
  groups: z.array(z.uuid()).max(100).default([]),
});

export function mfaPolicyRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/mfa-policy', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const p = await findMfaPolicy(rt.db, tenant.id);
    return c.json({ mode: p.mode, groups: p.groupIds });
  });

  app.put('/auth/admin/tenants/:tenant/mfa-policy', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, policyBody);
    const ids = [...new Set(body.groups)];
    if (body.mode === 'groups' && ids.length === 0) throw new AppError(422, 'invalid_policy', 'Unprocessable Content', { detail: 'mode "groups" needs at least one group.' });
    await rt.transaction(async (tx) => {
      const found = ids.length ? await tx.select({ id: groups.id }).from(groups).where(and(eq(groups.tenantId, tenant.id), inArray(groups.id, ids))) : [];
      if (found.length !== ids.length) throw new AppError(422, 'unknown_group', 'Unprocessable Content', { detail: 'A group is not a group of this tenant.' });
      await saveMfaPolicy(tx, tenant.id, { mode: body.mode, groupIds: body.mode === 'groups' ? ids : [] });
      await recordAudit(tx, { tenantId: tenant.id, action: 'tenant.mfa_policy.updated', outcome: 'success', actor: `admin:${a.actor}`, detail: { mode: body.mode, groups: ids } }, a.meta);
    });
    return c.json({ mode: body.mode, groups: body.mode === 'groups' ? ids : [] });
  });
}
