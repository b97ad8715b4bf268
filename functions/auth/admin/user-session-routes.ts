// Admin API: sign a user out everywhere (every live session, and the grants each one started).
import type { Hono } from 'hono';
import { notFound } from '#shared/http/errors';
import { recordAudit } from '../core/audit.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import { revokeUserSessions } from '../core/sessions.js';
import { findUserById } from '../core/users.js';
import { admin, pathTenant } from './context.js';

export function userSessionRoutes(app: Hono, rt: AuthRuntime): void {
  app.delete('/auth/admin/tenants/:tenant/users/:user/sessions', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const userId = c.req.param('user');
    if (!/^[0-9a-f-]{36}$/i.test(userId) || !(await findUserById(rt.db, tenant.id, userId))) throw notFound('No such user.');
    const revoked = await rt.transaction(async (tx) => {
      const ids = await revokeUserSessions(tx, tenant.id, userId);
      await recordAudit(tx, { tenantId: tenant.id, action: 'user.sessions.revoked', outcome: 'success', actor: `admin:${a.actor}`, detail: { user: userId, sessions: ids } }, a.meta);
      for (const id of ids) await rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId: id, userId, reason: 'admin' } });
      return ids.length;
    });
    return c.json({ revoked });
  });
}
