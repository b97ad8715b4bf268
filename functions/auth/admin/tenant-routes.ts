// Admin API: tenants.
import type { Hono } from 'hono';
import { conflict, AppError } from '#shared/http/errors';
import { adminBody } from './json.js';
import { SYSTEM_TENANT } from '../core/bootstrap.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import { createTenant, deleteTenant, isValidTenantSlug, listTenants } from '../core/tenants.js';
import { tenantBody } from './bodies.js';
import { admin, pathTenant } from './context.js';
import { tenantView } from './describe.js';

export function tenantRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants', async (c) => {
    await admin(c, rt);
    return c.json({ tenants: (await listTenants(rt.db)).map(tenantView) });
  });

  app.post('/auth/admin/tenants', async (c) => {
    const a = await admin(c, rt);
    const body = await adminBody(c, tenantBody);
    if (!isValidTenantSlug(body.slug)) throw new AppError(422, 'reserved_slug', 'Unprocessable Content', { detail: `"${body.slug}" is reserved.` });
    const tenant = await rt.transaction(async (tx) => {
      const t = await createTenant(tx, body.slug, body.displayName ?? body.slug);
      if (!t) throw conflict('tenant_exists', `Tenant "${body.slug}" already exists.`);
      await a.record(tx, { tenantId: t.id, action: 'tenant.created' }, { type: AUTH_EVENTS.tenantCreated, data: { tenant: t.slug, displayName: t.displayName } });
      return t;
    });
    rt.tenants.forget(tenant.slug);
    return c.json({ ...tenantView(tenant), issuer: rt.issuer(tenant.slug) }, 201);
  });

  app.delete('/auth/admin/tenants/:tenant', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    if (tenant.slug === SYSTEM_TENANT) throw conflict('system_tenant', 'The system tenant cannot be deleted.');
    await rt.transaction(async (tx) => {
      await deleteTenant(tx, tenant.slug);
      await a.record(tx, { tenantId: tenant.id, action: 'tenant.deleted' }, { type: AUTH_EVENTS.tenantDeleted, data: { tenant: tenant.slug } });
    });
    rt.tenants.forget(tenant.slug);
    rt.keys.forget(tenant.id);
    return c.body(null, 204);
  });
}
