// Brings one user or group up to date at one target, from its current state here: create it
// (POST) when the target does not know it, replace it (PUT) when it does, delete it when it is
// gone here or left the target's scope. A group's members are pushed first, so the target never
// sees a reference to an id it does not have (RFC 7644 §3.3, §3.5.1, §3.6).
import { and, eq, inArray } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { findGroupById } from '../core/groups.js';
import { directMembersOf, effectiveMembersOf } from '../core/membership.js';
import { users, type User } from '../core/schema.js';
import { scimPushLinks, type ScimTarget } from '../core/schema.js';
import { inTargetScope, type PushResourceType } from '../core/scim-targets.js';
import { TargetError, type TargetClient } from './target-client.js';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** Nesting is bounded by the tenant's groups (the database refuses cycles); this only guards the walk. */
const MAX_DEPTH = 64;

interface PushContext {
  db: Queryable;
  target: ScimTarget;
  client: TargetClient;
}

const collection = (type: PushResourceType) => (type === 'User' ? '/Users' : '/Groups');

async function linkOf(x: PushContext, type: PushResourceType, id: string): Promise<string | undefined> {
  const [row] = await x.db
    .select({ remoteId: scimPushLinks.remoteId })
    .from(scimPushLinks)
    .where(and(eq(scimPushLinks.targetId, x.target.id), eq(scimPushLinks.resourceType, type), eq(scimPushLinks.resourceId, id)))
    .limit(1);
  return row?.remoteId;
}

/** The target ids of many resources at once (`User:<id>` → remote id): one query for a group's members. */
async function linksOf(x: PushContext, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await x.db
      .select({ type: scimPushLinks.resourceType, id: scimPushLinks.resourceId, remoteId: scimPushLinks.remoteId })
      .from(scimPushLinks)
      .where(and(eq(scimPushLinks.targetId, x.target.id), inArray(scimPushLinks.resourceId, ids.slice(i, i + 1000))));
    for (const r of rows) out.set(`${r.type}:${r.id}`, r.remoteId);
  }
  return out;
}

async function setLink(x: PushContext, type: PushResourceType, id: string, remoteId: string | undefined): Promise<void> {
  const where = and(eq(scimPushLinks.targetId, x.target.id), eq(scimPushLinks.resourceType, type), eq(scimPushLinks.resourceId, id));
  if (remoteId === undefined) await x.db.delete(scimPushLinks).where(where);
  else
    await x.db
      .insert(scimPushLinks)
      .values({ targetId: x.target.id, resourceType: type, resourceId: id, remoteId })
      .onConflictDoUpdate({ target: [scimPushLinks.targetId, scimPushLinks.resourceType, scimPushLinks.resourceId], set: { remoteId } });
}

export function userBody(u: User): Record<string, unknown> {
  return {
    schemas: [USER_SCHEMA],
    userName: u.username,
    // The target knows the resource by our id: the key a later reconcile or sync matches on.
    externalId: u.id,
    active: u.active,
    ...(u.name ? { displayName: u.name } : {}),
    ...(u.name || u.givenName || u.familyName
      ? { name: { ...(u.name ? { formatted: u.name } : {}), ...(u.givenName ? { givenName: u.givenName } : {}), ...(u.familyName ? { familyName: u.familyName } : {}) } }
      : {}),
    ...(u.emails.length ? { emails: u.emails } : u.email ? { emails: [{ value: u.email, primary: true }] } : {}),
  };
}

/** Creates the resource, or adopts the target's copy when it already has one with our externalId. */
async function create(x: PushContext, type: PushResourceType, id: string, body: Record<string, unknown>): Promise<string> {
  try {
    const made = await x.client.call('POST', collection(type), body);
    if (typeof made?.id !== 'string') throw new TargetError(`POST ${collection(type)}: no id in the answer`);
    return made.id;
  } catch (err) {
    if (!(err instanceof TargetError) || err.status !== 409) throw err;
    // §3.3: 409 uniqueness. A copy from an earlier push whose link was lost: find it and replace it.
    const key = type === 'User' ? `userName eq ${JSON.stringify(body.userName)}` : `displayName eq ${JSON.stringify(body.displayName)}`;
    const found = await x.client.call('GET', `${collection(type)}?filter=${encodeURIComponent(key)}&count=1`);
    const hit = (found?.Resources as { id?: unknown; externalId?: unknown }[] | undefined)?.[0];
    if (!hit || typeof hit.id !== 'string' || hit.externalId !== id) throw err;
    await x.client.call('PUT', `${collection(type)}/${hit.id}`, body);
    return hit.id;
  }
}

async function upsert(x: PushContext, type: PushResourceType, id: string, body: Record<string, unknown>): Promise<string> {
  const remote = await linkOf(x, type, id);
  if (remote) {
    try {
      await x.client.call('PUT', `${collection(type)}/${encodeURIComponent(remote)}`, body);
      return remote;
    } catch (err) {
      // Deleted at the target behind our back: create it again.
      if (!(err instanceof TargetError) || err.status !== 404) throw err;
    }
  }
  const made = await create(x, type, id, body);
  await setLink(x, type, id, made);
  return made;
}

async function remove(x: PushContext, type: PushResourceType, id: string): Promise<void> {
  const remote = await linkOf(x, type, id);
  if (!remote) return;
  try {
    await x.client.call('DELETE', `${collection(type)}/${encodeURIComponent(remote)}`);
  } catch (err) {
    if (!(err instanceof TargetError) || err.status !== 404) throw err;
  }
  await setLink(x, type, id, undefined);
}

/** The members a group is pushed with: flattened (the transitive user members and no nested groups,
 * for targets that cannot nest) or direct (users and nested groups). */
export async function membersToPush(db: Queryable, target: ScimTarget, groupId: string): Promise<{ value: string; type: PushResourceType }[]> {
  return target.flatten
    ? (await effectiveMembersOf(db, target.tenantId, groupId)).map((value) => ({ value, type: 'User' as const }))
    : ((await directMembersOf(db, [groupId])).get(groupId) ?? []).map((m) => ({ value: m.value, type: m.type }));
}

/** Pushes one resource; returns its id at the target, or undefined when the target should not have it. */
export async function pushResource(x: PushContext, type: PushResourceType, id: string, depth = 0): Promise<string | undefined> {
  if (depth > MAX_DEPTH) throw new TargetError('group nesting is deeper than the push follows');
  const tenantId = x.target.tenantId;
  if (type === 'User') {
    const [u] = await x.db.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).limit(1);
    if (!u || !(await inTargetScope(x.db, x.target, 'User', id))) return void (await remove(x, 'User', id));
    return upsert(x, 'User', id, userBody(u));
  }
  const g = await findGroupById(x.db, tenantId, id);
  if (!g || !(await inTargetScope(x.db, x.target, 'Group', id))) return void (await remove(x, 'Group', id));
  const members = await membersToPush(x.db, x.target, id);
  const links = await linksOf(x, members.map((m) => m.value));
  const remoteMembers: { value: string; type: PushResourceType }[] = [];
  for (const m of members) {
    const known = links.get(`${m.type}:${m.value}`);
    const remote = known ?? (await pushResource(x, m.type, m.value, depth + 1));
    if (remote) remoteMembers.push({ value: remote, type: m.type });
  }
  return upsert(x, 'Group', id, { schemas: [GROUP_SCHEMA], displayName: g.displayName, externalId: g.id, members: remoteMembers });
}

