// /Groups (RFC 7644 §3.3–§3.6): members are users or groups (nested groups). A membership that
// would close a cycle is refused by the database; the answer is 400 invalidValue naming the loop.
import type { Context, Hono } from 'hono';
import type { Tx } from '#shared/db/index';
import { AUTH_EVENTS } from '../core/event-types.js';
import { addMembers, deleteGroup, GroupRuleError, insertGroup, isUuid, removeMembers, touchGroups, type MemberRef } from '../core/groups.js';
import { directMembersOf } from '../core/membership.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Group } from '../core/schema.js';
import { parseScimGroup, toScimGroup, type GroupValues } from './group-resource.js';
import { parseListQuery, parseSearchBody, project, type ListQuery } from './list-query.js';
import { applyPatch, parsePatchBody } from './patch.js';
import { checkIfMatch, notModified, scimBody, scimJson, scimRequest, type ScimRequest } from './request.js';
import { LIST_SCHEMA } from './schemas.js';
import { invalidValue, scimNotFound, uniqueness } from './scim-error.js';
import { listGroups, lockGroup, renameGroup } from './store.js';
import { findGroupById } from '../core/groups.js';

const MULTI = new Set(['members']);

/** Writes a membership change; unknown ids and cycles become 400 invalidValue (the transaction rolls back). */
async function changeMembers(tx: Tx, tenantId: string, groupId: string, add: MemberRef[], remove: string[]): Promise<void> {
  if (remove.length) await removeMembers(tx, groupId, remove);
  if (!add.length) return;
  try {
    const { unknown } = await addMembers(tx, tenantId, groupId, add);
    if (unknown.length) throw invalidValue(`No user or group of this tenant has the id ${unknown.slice(0, 5).join(', ')}.`);
  } catch (err) {
    if (err instanceof GroupRuleError && err.code === 'cycle') throw invalidValue(`Adding the member would create a cycle of nested groups: ${err.cycle.join(' -> ')}.`);
    throw err;
  }
}

export function scimGroupRoutes(app: Hono, rt: AuthRuntime): void {
  const representation = async (q: AuthRuntime['db'] | Tx, s: ScimRequest, g: Group, withMembers = true) =>
    toScimGroup(g, withMembers ? (await directMembersOf(q, [g.id])).get(g.id) : undefined, s.base);

  const list = async (s: ScimRequest, lq: ListQuery) => {
    const { total, rows } = await listGroups(rt.db, s.tenant.id, lq);
    const excluded = lq.excludedAttributes?.some((a) => a.toLowerCase() === 'members') || (lq.attributes?.length && !lq.attributes.some((a) => a.toLowerCase().startsWith('members')));
    const members = excluded ? new Map() : await directMembersOf(rt.db, rows.map((g) => g.id));
    const resources = rows.map((g) => project(toScimGroup(g, members.get(g.id), s.base), lq));
    return scimJson({ schemas: [LIST_SCHEMA], totalResults: total, startIndex: lq.startIndex, itemsPerPage: resources.length, Resources: resources });
  };

  app.get('/Groups', async (c) => list(await scimRequest(c, rt), parseListQuery((n) => c.req.query(n))));
  app.post('/Groups/.search', async (c) => {
    const s = await scimRequest(c, rt);
    return list(s, parseSearchBody(await scimBody(c)));
  });

  app.get('/Groups/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const g = await findGroupById(rt.db, s.tenant.id, c.req.param('id'));
    if (!g) throw scimNotFound();
    if (notModified(c, g.version)) return new Response(null, { status: 304 });
    return scimJson(project(await representation(rt.db, s, g), parseListQuery((n) => c.req.query(n))), 200, g.version);
  });

  app.post('/Groups', async (c) => {
    const s = await scimRequest(c, rt);
    const v = parseScimGroup(await scimBody(c));
    const g = await rt.transaction(async (tx) => {
      const g = await insertGroup(tx, s.tenant.id, v);
      if (!g) throw uniqueness('The displayName or externalId is already taken in this tenant.');
      await changeMembers(tx, s.tenant.id, g.id, v.members, []);
      const events = [{ type: AUTH_EVENTS.groupCreated, data: { tenant: s.tenant.slug, groupId: g.id, displayName: g.displayName, externalId: g.externalId } }];
      if (v.members.length) events.push(membershipEvent(s, g.id, v.members.map((m) => m.value), []) as never);
      await s.record(tx, 'scim.group.created', { group: g.id, members: v.members.length }, events);
      return g;
    });
    return scimJson(await representation(rt.db, s, g), 201, g.version, { location: `${s.base}/Groups/${g.id}` });
  });

  const rewrite = async (c: Context, s: ScimRequest, next: (current: Group, tx: Tx) => Promise<GroupValues>) => {
    const id = c.req.param('id') ?? '';
    if (!isUuid(id)) throw scimNotFound();
    const g = await rt.transaction(async (tx) => {
      const current = await lockGroup(tx, s.tenant.id, id);
      if (!current) throw scimNotFound();
      checkIfMatch(c, current.version);
      const before = ((await directMembersOf(tx, [id])).get(id) ?? []).map((m) => m.value);
      const v = await next(current, tx);
      const after = new Set(v.members.map((m) => m.value));
      const added = v.members.filter((m) => !before.includes(m.value));
      const removed = before.filter((m) => !after.has(m));
      await changeMembers(tx, s.tenant.id, id, added, removed);
      const events: { type: string; data: Record<string, unknown> }[] = [];
      let g = current;
      if (v.displayName !== current.displayName || v.externalId !== current.externalId) {
        g = await renameGroup(tx, s.tenant.id, id, v.displayName, v.externalId);
        events.push({ type: AUTH_EVENTS.groupUpdated, data: { tenant: s.tenant.slug, groupId: id, displayName: g.displayName, externalId: g.externalId } });
      } else if (added.length || removed.length) {
        await touchGroups(tx, s.tenant.id, [id]);
        g = (await lockGroup(tx, s.tenant.id, id))!;
      }
      if (added.length || removed.length) events.push(membershipEvent(s, id, added.map((m) => m.value), removed));
      await s.record(tx, 'scim.group.updated', { group: id, method: c.req.method, added: added.length, removed: removed.length }, events);
      return g;
    });
    return scimJson(await representation(rt.db, s, g), 200, g.version);
  };

  app.put('/Groups/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const v = parseScimGroup(await scimBody(c));
    return rewrite(c, s, async () => v);
  });

  app.patch('/Groups/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const ops = parsePatchBody(await scimBody(c));
    return rewrite(c, s, async (current, tx) => parseScimGroup(applyPatch(await representation(tx, s, current), ops, MULTI)));
  });

  app.delete('/Groups/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const id = c.req.param('id');
    if (!isUuid(id)) throw scimNotFound();
    await rt.transaction(async (tx) => {
      const current = await lockGroup(tx, s.tenant.id, id);
      if (!current) throw scimNotFound();
      checkIfMatch(c, current.version);
      await deleteGroup(tx, s.tenant.id, id);
      await s.record(tx, 'scim.group.deleted', { group: id }, [{ type: AUTH_EVENTS.groupDeleted, data: { tenant: s.tenant.slug, groupId: id, displayName: current.displayName } }]);
    });
    return new Response(null, { status: 204 });
  });
}

function membershipEvent(s: ScimRequest, groupId: string, added: string[], removed: string[]) {
  return { type: AUTH_EVENTS.groupMembershipChanged, data: { tenant: s.tenant.slug, groupId, added, removed } };
}
