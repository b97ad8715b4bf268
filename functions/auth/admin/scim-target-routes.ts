// Admin API: the downstream SCIM targets a tenant pushes its users and groups to, their failed
// pushes (dead letters) and replay. The credential is sealed at rest and never shown again.
import type { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { conflict, notFound } from '#shared/http/errors';
import { recordAudit } from '../core/audit.js';
import { isUuid } from '../core/groups.js';
import type { AuthRuntime } from '../core/runtime.js';
import { createTarget, deadLetters, deleteTarget, enqueuePush, findTarget, listTargets, pendingCount, replayDeadLetters } from '../core/scim-targets.js';
import type { ScimTarget } from '../core/schema.js';
import { groups, users } from '../core/schema.js';
import { drainPushQueue } from '../scim-push/drain.js';
import { reconcileTarget } from '../scim-push/reconcile.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

const targetBody = z.object({
  name: z.string().min(1).max(200),
  url: z
    .string()
    .max(2000)
    .url()
    .refine((u) => /^https?:$/.test(URL.parse(u)?.protocol ?? ''), 'the URL must be http or https'),
  token: z.string().min(1).max(8192),
  groups: z.array(z.string().uuid()).max(1000).nullable().default(null),
  flatten: z.boolean().default(false),
});

/** What an admin sees of a target: never the credential. */
const view = (t: ScimTarget) => ({
  id: t.id,
  name: t.name,
  url: t.url,
  groups: t.groupIds,
  flatten: t.flatten,
  createdAt: t.createdAt,
  lastReconcileAt: t.lastReconcileAt,
  lastReconcile: t.lastReconcile,
});

export function scimTargetRoutes(app: Hono, rt: AuthRuntime): void {
  const base = '/auth/admin/tenants/:tenant/scim-targets';
  const target = async (tenantId: string, id: string) => {
    const t = isUuid(id) ? await findTarget(rt.db, tenantId, id) : undefined;
    if (!t) throw notFound('No such SCIM target.');
    return t;
  };

  app.get(base, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ targets: (await listTargets(rt.db, tenant.id)).map(view) });
  });

  app.post(base, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, targetBody);
    const t = await rt.transaction(async (tx) => {
      const t = await createTarget(tx, rt.pushSealer, tenant.id, { name: body.name, url: body.url, token: body.token, groupIds: body.groups, flatten: body.flatten });
      if (!t) throw conflict('target_exists', 'A SCIM target of this tenant already has that name.');
      await recordAudit(tx, { tenantId: tenant.id, action: 'scim-target.created', outcome: 'success', actor: `admin:${a.actor}`, detail: { target: t.id, url: t.url } }, a.meta);
      return t;
    });
    return c.json(view(t), 201);
  });

  app.get(`${base}/:id`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const t = await target(tenant.id, c.req.param('id'));
    const dead = await deadLetters(rt.db, tenant.id, t.id);
    return c.json({
      ...view(t),
      pending: await pendingCount(rt.db, tenant.id, t.id),
      deadLetters: dead.map((d) => ({ resourceType: d.resourceType, resourceId: d.resourceId, attempts: d.attempts, lastError: d.lastError, deadAt: d.deadAt })),
    });
  });

  app.delete(`${base}/:id`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const id = c.req.param('id');
    await rt.transaction(async (tx) => {
      if (!isUuid(id) || !(await deleteTarget(tx, tenant.id, id))) throw notFound('No such SCIM target.');
      await recordAudit(tx, { tenantId: tenant.id, action: 'scim-target.deleted', outcome: 'success', actor: `admin:${a.actor}`, detail: { target: id } }, a.meta);
    });
    return c.body(null, 204);
  });

  /** Puts the dead letters back in line. */
  app.post(`${base}/:id/replay`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const t = await target(tenant.id, c.req.param('id'));
    return c.json({ replayed: await replayDeadLetters(rt.db, tenant.id, t.id) });
  });

  /**
   * A drift reconcile round now: lists the target, queues the repairs, deletes what it should not
   * hold, and answers the outcome (also kept on the target). 409 while another round holds it.
   */
  app.post(`${base}/:id/reconcile`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const t = await target(tenant.id, c.req.param('id'));
    const outcome = await reconcileTarget(rt, tenant.id, t.id);
    if (!outcome) throw conflict('reconcile_running', 'A reconcile round of this target is running.');
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'scim-target.reconciled', outcome: outcome.ok ? 'success' : 'failure', actor: `admin:${a.actor}`, detail: { target: t.id, ...outcome } }, a.meta);
    // The queued repairs go out now; the push schedule retries what this misses.
    if (outcome.queued) void drainPushQueue(rt).catch((err: unknown) => rt.log.error('scim push drain failed', { err }));
    return c.json(outcome);
  });

  /** Puts every user and group of the tenant in line (the first push, or after a target was wiped). */
  app.post(`${base}/:id/resync`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const t = await target(tenant.id, c.req.param('id'));
    const queued = await enqueueAll(rt, tenant.id, t.id);
    return c.json({ queued });
  });
}

async function enqueueAll(rt: AuthRuntime, tenantId: string, targetId: string): Promise<number> {
  const us = await rt.db.select({ id: users.id }).from(users).where(eq(users.tenantId, tenantId));
  const gs = await rt.db.select({ id: groups.id }).from(groups).where(eq(groups.tenantId, tenantId));
  const items = [...us.map((u) => ({ type: 'User' as const, id: u.id })), ...gs.map((g) => ({ type: 'Group' as const, id: g.id }))];
  await enqueuePush(rt.db, tenantId, items, targetId);
  return items.length;
}
