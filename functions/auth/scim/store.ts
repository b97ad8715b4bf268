// The SQL behind SCIM lists and writes: a filtered, sorted page of users or groups of one tenant,
// and full-row writes of a User's SCIM values (unique clashes reported, not thrown raw).
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { driverError } from '#shared/db/errors';
import { groups, users, type Group, type User } from '../core/schema.js';
import { compileFilter } from './filter-sql.js';
import type { ListQuery } from './list-query.js';
import { invalidValue, uniqueness } from './scim-error.js';
import type { UserValues } from './user-resource.js';

const USER_SORT: Record<string, SQL | typeof users.username> = {
  id: sql`${users.id}`,
  username: sql`${users.username}`,
  displayname: sql`${users.name}`,
  'name.formatted': sql`${users.name}`,
  'name.givenname': sql`${users.givenName}`,
  'name.familyname': sql`${users.familyName}`,
  externalid: sql`${users.externalId}`,
  'meta.created': sql`${users.createdAt}`,
  'meta.lastmodified': sql`${users.updatedAt}`,
};
const GROUP_SORT: Record<string, SQL> = {
  id: sql`${groups.id}`,
  displayname: sql`${groups.displayName}`,
  externalid: sql`${groups.externalId}`,
  'meta.created': sql`${groups.createdAt}`,
  'meta.lastmodified': sql`${groups.updatedAt}`,
};

function sortColumn(map: Record<string, SQL | typeof users.username>, sortBy: string | undefined, fallback: SQL): SQL | typeof users.username {
  if (!sortBy) return fallback;
  const key = sortBy.replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, '').toLowerCase();
  const col = map[key];
  if (!col) throw invalidValue(`Cannot sort by "${sortBy}".`);
  return col;
}

/** One page of the tenant's users matching the query, and how many match in all. */
export async function listUsers(q: Queryable, tenantId: string, lq: ListQuery): Promise<{ total: number; rows: User[] }> {
  const where = and(eq(users.tenantId, tenantId), lq.filter ? compileFilter('User', lq.filter) : undefined);
  const [{ total }] = (await q.select({ total: sql<number>`count(*)::int` }).from(users).where(where)) as [{ total: number }];
  if (lq.count === 0 || total < lq.startIndex) return { total, rows: [] };
  const col = sortColumn(USER_SORT, lq.sortBy, sql`${users.createdAt}`);
  const rows = await q
    .select()
    .from(users)
    .where(where)
    .orderBy(lq.descending ? desc(col) : asc(col), asc(users.id))
    .limit(lq.count)
    .offset(lq.startIndex - 1);
  return { total, rows };
}

export async function listGroups(q: Queryable, tenantId: string, lq: ListQuery): Promise<{ total: number; rows: Group[] }> {
  const where = and(eq(groups.tenantId, tenantId), lq.filter ? compileFilter('Group', lq.filter) : undefined);
  const [{ total }] = (await q.select({ total: sql<number>`count(*)::int` }).from(groups).where(where)) as [{ total: number }];
  if (lq.count === 0 || total < lq.startIndex) return { total, rows: [] };
  const col = sortColumn(GROUP_SORT, lq.sortBy, sql`${groups.createdAt}`);
  const rows = await q
    .select()
    .from(groups)
    .where(where)
    .orderBy(lq.descending ? desc(col) : asc(col), asc(groups.id))
    .limit(lq.count)
    .offset(lq.startIndex - 1);
  return { total, rows };
}

const columns = (v: UserValues, passwordHash: string | undefined) => ({
  username: v.username.toLowerCase(),
  externalId: v.externalId,
  name: v.name,
  givenName: v.givenName,
  familyName: v.familyName,
  active: v.active,
  emails: v.emails,
  email: v.email,
  scimExtra: v.scimExtra,
  ...(passwordHash ? { passwordHash } : {}),
});

/** A unique index clash (userName, displayName or externalId taken) as 409 uniqueness. */
function clash(err: unknown, what: string): unknown {
  return (driverError(err) as { code?: string }).code === '23505' ? uniqueness(`${what} is already taken in this tenant.`) : err;
}

export async function insertScimUser(q: Queryable, tenantId: string, v: UserValues, passwordHash: string | undefined): Promise<User> {
  const [row] = await q.insert(users).values({ tenantId, ...columns(v, passwordHash) }).onConflictDoNothing().returning();
  if (!row) throw uniqueness('The userName or externalId is already taken in this tenant.');
  return row;
}

export async function replaceScimUser(q: Queryable, tenantId: string, id: string, v: UserValues, passwordHash: string | undefined): Promise<User> {
  try {
    const [row] = await q.update(users).set({ ...columns(v, passwordHash), updatedAt: sql`now()` }).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).returning();
    return row!;
  } catch (err) {
    throw clash(err, 'The userName or externalId');
  }
}

/** Locks a user of the tenant for a read-modify-write (PUT, PATCH, DELETE with If-Match). */
export async function lockUser(q: Queryable, tenantId: string, id: string): Promise<User | undefined> {
  const [row] = await q.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).for('update').limit(1);
  return row;
}

export async function lockGroup(q: Queryable, tenantId: string, id: string): Promise<Group | undefined> {
  const [row] = await q.select().from(groups).where(and(eq(groups.tenantId, tenantId), eq(groups.id, id))).for('update').limit(1);
  return row;
}

export async function renameGroup(q: Queryable, tenantId: string, id: string, displayName: string, externalId: string | null): Promise<Group> {
  try {
    const [row] = await q.update(groups).set({ displayName, externalId, updatedAt: sql`now()` }).where(and(eq(groups.tenantId, tenantId), eq(groups.id, id))).returning();
    return row!;
  } catch (err) {
    throw clash(err, 'The displayName or externalId');
  }
}
