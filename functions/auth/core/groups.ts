// Group queries: create, rename, delete, and direct membership (users and nested groups) within one
// tenant. Cycles and cross-tenant edges are refused by the database (migration 0004); this module
// turns those refusals into a coded GroupRuleError.
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { driverError } from '#shared/db/errors';
import { groupMembers, groupNesting, groups, users, type Group } from './schema.js';

/** A membership the database refused: `cycle` (with the groups of the loop) or `cross_tenant`. */
export class GroupRuleError extends Error {
  readonly code: 'cycle' | 'cross_tenant' | 'isolation';
  /** For a cycle: the group ids of the loop, starting with the parent of the refused edge. */
  readonly cycle: string[];
  constructor(code: GroupRuleError['code'], message: string, cycle: string[] = []) {
    super(message);
    this.name = 'GroupRuleError';
    this.code = code;
    this.cycle = cycle;
  }
}

const RULE_CODES: Record<string, GroupRuleError['code']> = { ZG001: 'cycle', ZG002: 'cross_tenant', ZG003: 'isolation' };

/** Rethrows the database's group-rule refusals as a GroupRuleError; anything else unchanged. */
function asGroupRuleError(err: unknown): unknown {
  const e = driverError(err) as { code?: unknown; message?: unknown; detail?: unknown };
  const code = typeof e.code === 'string' ? RULE_CODES[e.code] : undefined;
  if (!code) return err;
  const cycle = code === 'cycle' && typeof e.detail === 'string' ? e.detail.split(' ').filter(Boolean) : [];
  return new GroupRuleError(code, typeof e.message === 'string' ? e.message : code, cycle);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

interface GroupInput {
  displayName: string;
  externalId?: string | null | undefined;
}

/** Inserts a group; undefined when its displayName or externalId is taken in the tenant. */
export async function insertGroup(q: Queryable, tenantId: string, input: GroupInput): Promise<Group | undefined> {
  const [row] = await q
    .insert(groups)
    .values({ tenantId, displayName: input.displayName, externalId: input.externalId ?? null })
    .onConflictDoNothing()
    .returning();
  return row;
}

export async function findGroupById(q: Queryable, tenantId: string, id: string): Promise<Group | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.select().from(groups).where(and(eq(groups.tenantId, tenantId), eq(groups.id, id))).limit(1);
  return row;
}

/** Deletes a group; its memberships everywhere (as parent, as child, its users) go by cascade. */
export async function deleteGroup(q: Queryable, tenantId: string, id: string): Promise<Group | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.delete(groups).where(and(eq(groups.tenantId, tenantId), eq(groups.id, id))).returning();
  return row;
}

export interface MemberRef {
  value: string;
  type: 'User' | 'Group';
}

/**
 * Adds direct members to a group of the tenant. Members that are no user or group of the tenant
 * are returned as `unknown` and nothing is written; a cycle throws a GroupRuleError (the caller's
 * transaction is then aborted, so nothing of the call stays).
 */
export async function addMembers(q: Queryable, tenantId: string, groupId: string, members: MemberRef[]): Promise<{ unknown: string[] }> {
  const resolved = await resolveMembers(q, tenantId, members);
  if (resolved.unknown.length) return { unknown: resolved.unknown };
  try {
    if (resolved.users.length) {
      await q.insert(groupMembers).values(resolved.users.map((userId) => ({ groupId, userId }))).onConflictDoNothing();
    }
    for (const childId of resolved.groups) {
      await q.insert(groupNesting).values({ parentId: groupId, childId }).onConflictDoNothing();
    }
  } catch (err) {
    throw asGroupRuleError(err);
  }
  return { unknown: [] };
}

/** Removes direct members (ids of users or groups); ids that are not members are ignored. */
export async function removeMembers(q: Queryable, groupId: string, ids: string[]): Promise<void> {
  const valid = ids.filter(isUuid);
  if (!valid.length) return;
  await q.delete(groupMembers).where(and(eq(groupMembers.groupId, groupId), inArray(groupMembers.userId, valid)));
  await q.delete(groupNesting).where(and(eq(groupNesting.parentId, groupId), inArray(groupNesting.childId, valid)));
}

/** Sorts member references into users and groups of the tenant; the rest is `unknown`. */
async function resolveMembers(q: Queryable, tenantId: string, members: MemberRef[]): Promise<{ users: string[]; groups: string[]; unknown: string[] }> {
  const ids = [...new Set(members.map((m) => m.value))];
  const valid = ids.filter(isUuid);
  const foundUsers = valid.length ? await q.select({ id: users.id }).from(users).where(and(eq(users.tenantId, tenantId), inArray(users.id, valid))) : [];
  const foundGroups = valid.length ? await q.select({ id: groups.id }).from(groups).where(and(eq(groups.tenantId, tenantId), inArray(groups.id, valid))) : [];
  const u = new Set(foundUsers.map((r) => r.id));
  const g = new Set(foundGroups.map((r) => r.id));
  return { users: [...u], groups: [...g], unknown: ids.filter((id) => !u.has(id) && !g.has(id)) };
}

/** Marks groups as changed (updated_at, and version by trigger), e.g. after a membership change. */
export async function touchGroups(q: Queryable, tenantId: string, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await q.update(groups).set({ updatedAt: sql`now()` }).where(and(eq(groups.tenantId, tenantId), inArray(groups.id, ids)));
}

/** Renames (or re-keys) a group; undefined when absent, 'taken' when the name or externalId is used. */
export async function updateGroup(q: Queryable, tenantId: string, id: string, patch: Partial<GroupInput>): Promise<Group | 'taken' | undefined> {
  if (!isUuid(id)) return undefined;
  try {
    const [row] = await q
      .update(groups)
      .set({ ...patch, updatedAt: sql`now()` })
      .where(and(eq(groups.tenantId, tenantId), eq(groups.id, id)))
      .returning();
    return row;
  } catch (err) {
    if ((driverError(err) as { code?: string }).code === '23505') return 'taken';
    throw err;
  }
}

export async function listGroupsOf(q: Queryable, tenantId: string): Promise<Group[]> {
  return q.select().from(groups).where(eq(groups.tenantId, tenantId)).orderBy(groups.displayName).limit(1000);
}
