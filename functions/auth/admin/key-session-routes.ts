// Admin API: signing-key rotation and browser sessions of a tenant.
import type { Hono } from 'hono';
import { AppError, notFound } from '#shared/http/errors';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import { listSessionPage, revokeSession } from '../core/sessions.js';
import { pageQuery } from './bodies.js';
import { admin, pathTenant } from './context.js';
import { sessionView } from './describe.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function keySessionRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/keys', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json(await rt.keys.jwks(tenant.id));
  });

  app.post('/auth/admin/tenants/:tenant/keys/rotate', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const result = await rt.transaction(async (tx) => {
      const r = await rt.keys.rotate(tx, tenant.id);
      await a.record(tx, { tenantId: tenant.id, action: 'key.rotated', detail: r }, { type: AUTH_EVENTS.keyRotated, data: { tenant: tenant.slug, ...r } });
      return r;
    });
    rt.keys.forget(tenant.id);
    return c.json(result);
  });

  app.get('/auth/admin/tenants/:tenant/sessions', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const user = c.req.query('user');
    if (user !== undefined && !UUID.test(user)) return c.json({ sessions: [] });
    const { limit, after } = pageQuery(c.req.query('limit'), c.req.query('after'));
    if (after !== undefined && !UUID.test(after)) throw new AppError(400, 'invalid_page', 'Bad Request', { detail: 'after is malformed.' });
    const rows = await listSessionPage(rt.db, tenant.id, { userId: user, after: after?.toLowerCase(), limit: limit + 1 });
    const page = rows.slice(0, limit);
    // `next` is the cursor of the following page (its `after`), absent on the last page.
    return c.json({ sessions: page.map(sessionView), ...(rows.length > limit ? { next: page[page.length - 1]!.id } : {}) });
  });

  app.delete('/auth/admin/tenants/:tenant/sessions/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    await rt.transaction(async (tx) => {
      const s = await revokeSession(tx, tenant.id, c.req.param('id'));
      if (!s) throw notFound('No such live session.');
      await a.record(tx, { tenantId: tenant.id, action: 'session.revoked', detail: { session: s.id, user: s.userId } }, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId: s.id, userId: s.userId, reason: 'admin' } });
    });
    return c.body(null, 204);
  });
}
