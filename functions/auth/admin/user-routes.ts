// Admin API: users of a tenant. Disabling a user ends their sessions and revokes their grants; a
// password set here follows the same policy as one set on the account pages.
import type { Hono } from 'hono';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { badRequest, conflict, notFound } from '#shared/http/errors';
import { adminBody } from './json.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { PasswordPolicy } from '../core/password-policy.js';
import { hashPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { tokenFamilies } from '../core/schema.js';
import { revokeUserSessions } from '../core/sessions.js';
import { deleteUser, findUserById, insertUser, listUsers, updateUser } from '../core/users.js';
import { pageQuery, userBody, userPatch } from './bodies.js';
import { admin, pathTenant } from './context.js';
import { userView } from './describe.js';

/** 400 `weak_password` with the policy's reason, before any hashing. */
async function checkPassword(passwords: PasswordPolicy, password: string, username: string): Promise<void> {
  const problem = await passwords.problem(password, username);
  if (problem) throw badRequest('weak_password', problem);
}

export function userRoutes(app: Hono, rt: AuthRuntime, passwords: PasswordPolicy): void {
  app.get('/auth/admin/tenants/:tenant/users', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const { limit, after } = pageQuery(c.req.query('limit'), c.req.query('after'));
    const rows = await listUsers(rt.db, tenant.id, { after, limit: limit + 1 });
    const page = rows.slice(0, limit);
    // `next` is the cursor of the following page (its `after`), absent on the last page.
    return c.json({ users: page.map(userView), ...(rows.length > limit ? { next: page[page.length - 1]!.username } : {}) });
  });

  app.get('/auth/admin/tenants/:tenant/users/:id', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const user = await findUserById(rt.db, tenant.id, c.req.param('id'));
    if (!user) throw notFound('No such user.');
    return c.json(userView(user));
  });

  app.post('/auth/admin/tenants/:tenant/users', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const { password, ...body } = await adminBody(c, userBody);
    if (password) await checkPassword(passwords, password, body.username);
    const passwordHash = password ? await hashPassword(password) : undefined;
    const user = await rt.transaction(async (tx) => {
      const u = await insertUser(tx, tenant.id, { ...body, passwordHash });
      if (!u) throw conflict('user_exists', 'A user with this username or externalId exists.');
      await a.record(tx, { tenantId: tenant.id, action: 'user.created', detail: { user: u.id } }, { type: AUTH_EVENTS.userCreated, data: { tenant: tenant.slug, userId: u.id, username: u.username, externalId: u.externalId } });
      return u;
    });
    return c.json(userView(user), 201);
  });

  app.patch('/auth/admin/tenants/:tenant/users/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const { password, ...patch } = await adminBody(c, userPatch);
    if (password) {
      const current = await findUserById(rt.db, tenant.id, c.req.param('id'));
      if (!current) throw notFound('No such user.');
      await checkPassword(passwords, password, current.username);
    }
    const passwordHash = password ? await hashPassword(password) : undefined;
    const user = await rt.transaction(async (tx) => {
      const u = await updateUser(tx, tenant.id, c.req.param('id'), { ...patch, ...(passwordHash ? { passwordHash } : {}) });
      if (!u) throw notFound('No such user.');
      if (patch.active === false || passwordHash) {
        const ended = await revokeUserSessions(tx, tenant.id, u.id);
        const reason = patch.active === false ? 'user_disabled' : 'password_changed';
        for (const id of ended) await rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId: id, userId: u.id, reason } });
        await tx
          .update(tokenFamilies)
          .set({ revokedAt: sql`now()`, revokedReason: patch.active === false ? 'user_disabled' : 'password_changed' })
          .where(and(eq(tokenFamilies.tenantId, tenant.id), eq(tokenFamilies.userId, u.id), isNull(tokenFamilies.revokedAt)));
      }
      await a.record(tx, { tenantId: tenant.id, action: 'user.updated', detail: { user: u.id, fields: Object.keys(patch).concat(passwordHash ? ['password'] : []) } }, { type: AUTH_EVENTS.userUpdated, data: { tenant: tenant.slug, userId: u.id, username: u.username, active: u.active } });
      return u;
    });
    return c.json(userView(user));
  });

  app.delete('/auth/admin/tenants/:tenant/users/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    await rt.transaction(async (tx) => {
      const u = await deleteUser(tx, tenant.id, c.req.param('id'));
      if (!u) throw notFound('No such user.');
      await a.record(tx, { tenantId: tenant.id, action: 'user.deleted', detail: { user: u.id } }, { type: AUTH_EVENTS.userDeleted, data: { tenant: tenant.slug, userId: u.id, username: u.username } });
    });
    return c.body(null, 204);
  });
}
