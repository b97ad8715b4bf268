// Admin API: groups of a tenant and their direct members (users or nested groups), and the
// effective groups of a user. The same rows as SCIM; cycles are refused by the database (409).
import type { Hono } from 'hono';
import { z } from 'zod';
import { AppError, conflict, notFound } from '#shared/http/errors';
import { AUTH_EVENTS } from '../core/event-types.js';
import { addMembers, deleteGroup, findGroupById, GroupRuleError, insertGroup, listGroupsOf, removeMembers, touchGroups, updateGroup } from '../core/groups.js';
import { directMembersOf, effectiveGroupsOf } from '../core/membership.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Group } from '../core/schema.js';
import { findUserById } from '../core/users.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

const groupBody = z.object({ displayName: z.string().trim().min(1).max(256), externalId: z.string().min(1).max(512).nullish() });
const groupPatch = groupBody.partial();
const membersBody = z.object({ members: z.array(z.object({ value: z.string().max(64), type: z.enum(['User', 'Group']).default('User') })).min(1).max(1000) });

const view = (g: Group) => ({ id: g.id, displayName: g.displayName, externalId: g.externalId, version: g.version, createdAt: g.createdAt, updatedAt: g.updatedAt });

export function groupRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/groups', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ groups: (await listGroupsOf(rt.db, tenant.id)).map(view) });
  });

  app.get('/auth/admin/tenants/:tenant/groups/:id', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const g = await findGroupById(rt.db, tenant.id, c.req.param('id'));
    if (!g) throw notFound('No such group.');
    return c.json({ ...view(g), members: (await directMembersOf(rt.db, [g.id])).get(g.id) });
  });

  app.post('/auth/admin/tenants/:tenant/groups', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, groupBody);
    const g = await rt.transaction(async (tx) => {
      const g = await insertGroup(tx, tenant.id, body);
      if (!g) throw conflict('group_exists', 'A group with this displayName or externalId exists.');
      await a.record(tx, { tenantId: tenant.id, action: 'group.created', detail: { group: g.id } }, { type: AUTH_EVENTS.groupCreated, data: { tenant: tenant.slug, groupId: g.id, displayName: g.displayName, externalId: g.externalId } });
      return g;
    });
    return c.json(view(g), 201);
  });

  app.patch('/auth/admin/tenants/:tenant/groups/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, groupPatch);
    const g = await rt.transaction(async (tx) => {
      const g = await updateGroup(tx, tenant.id, c.req.param('id'), body);
      if (g === 'taken') throw conflict('group_exists', 'A group with this displayName or externalId exists.');
      if (!g) throw notFound('No such group.');
      await a.record(tx, { tenantId: tenant.id, action: 'group.updated', detail: { group: g.id } }, { type: AUTH_EVENTS.groupUpdated, data: { tenant: tenant.slug, groupId: g.id, displayName: g.displayName, externalId: g.externalId } });
      return g;
    });
    return c.json(view(g));
  });

  app.delete('/auth/admin/tenants/:tenant/groups/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    await rt.transaction(async (tx) => {
      const g = await deleteGroup(tx, tenant.id, c.req.param('id'));
      if (!g) throw notFound('No such group.');
      await a.record(tx, { tenantId: tenant.id, action: 'group.deleted', detail: { group: g.id } }, { type: AUTH_EVENTS.groupDeleted, data: { tenant: tenant.slug, groupId: g.id, displayName: g.displayName } });
    });
    return c.body(null, 204);
  });

  app.post('/auth/admin/tenants/:tenant/groups/:id/members', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const { members } = await adminBody(c, membersBody);
    const id = c.req.param('id');
    await rt.transaction(async (tx) => {
      if (!(await findGroupById(tx, tenant.id, id))) throw notFound('No such group.');
      try {
        const { unknown } = await addMembers(tx, tenant.id, id, members);
        if (unknown.length) throw new AppError(422, 'unknown_member', 'Unprocessable Content', { detail: `No user or group of this tenant has the id ${unknown.slice(0, 5).join(', ')}.` });
      } catch (err) {
        if (err instanceof GroupRuleError && err.code === 'cycle') throw new AppError(409, 'group_cycle', 'Conflict', { detail: 'The membership would create a cycle of nested groups.', extras: { cycle: err.cycle } });
        throw err;
      }
      await touchGroups(tx, tenant.id, [id]);
      await a.record(tx, { tenantId: tenant.id, action: 'group.members.added', detail: { group: id, members: members.length } }, { type: AUTH_EVENTS.groupMembershipChanged, data: { tenant: tenant.slug, groupId: id, added: members.map((m) => m.value), removed: [] } });
    });
    return c.body(null, 204);
  });

  app.delete('/auth/admin/tenants/:tenant/groups/:id/members/:member', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const id = c.req.param('id');
    const member = c.req.param('member');
    await rt.transaction(async (tx) => {
      if (!(await findGroupById(tx, tenant.id, id))) throw notFound('No such group.');
      await removeMembers(tx, id, [member]);
      await touchGroups(tx, tenant.id, [id]);
      await a.record(tx, { tenantId: tenant.id, action: 'group.members.removed', detail: { group: id, member } }, { type: AUTH_EVENTS.groupMembershipChanged, data: { tenant: tenant.slug, groupId: id, added: [], removed: [member] } });
    });
    return c.body(null, 204);
  });

  app.get('/auth/admin/tenants/:tenant/users/:id/groups', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const user = await findUserById(rt.db, tenant.id, c.req.param('id'));
    if (!user) throw notFound('No such user.');
    return c.json({ groups: await effectiveGroupsOf(rt.db, tenant.id, user.id) });
  });
}
