// Tombstones of deleted users and groups (written by a trigger on every delete, migration 0012):
// listed for peers over SCIM, and set or cleared by the sync when it applies a peer's change.
import { and, asc, count, eq, gt, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { scimTombstones, type ScimTombstone } from './schema.js';

export type SyncResourceType = 'User' | 'Group';

/** One page of the tenant's tombstones (oldest first), optionally only those after `since`. */
export async function listTombstones(q: Queryable, tenantId: string, page: { since?: Date; startIndex: number; count: number }): Promise<{ total: number; rows: ScimTombstone[] }> {
  const where = and(eq(scimTombstones.tenantId, tenantId), page.since ? gt(scimTombstones.deletedAt, page.since) : undefined);
  const [row] = await q.select({ n: count() }).from(scimTombstones).where(where);
  const rows = page.count
    ? await q.select().from(scimTombstones).where(where).orderBy(asc(scimTombstones.deletedAt), asc(scimTombstones.id)).limit(page.count).offset(page.startIndex - 1)
    : [];
  return { total: Number(row?.n ?? 0), rows };
}

/** Sets a tombstone's time to the delete's origin time (the trigger wrote the local one). */
export async function setTombstone(q: Queryable, tenantId: string, type: SyncResourceType, key: string, deletedAt: Date): Promise<void> {
  await q
    .insert(scimTombstones)
    .values({ tenantId, resourceType: type, key, deletedAt })
    .onConflictDoUpdate({ target: [scimTombstones.tenantId, scimTombstones.resourceType, scimTombstones.key], set: { deletedAt } });
}

/** Drops a tombstone that a newer live copy of the resource has overruled. */
export async function clearTombstone(q: Queryable, tenantId: string, type: SyncResourceType, key: string): Promise<void> {
  await q
    .delete(scimTombstones)
    .where(and(eq(scimTombstones.tenantId, tenantId), eq(scimTombstones.resourceType, type), eq(scimTombstones.key, key)));
}

/** The tenant's tombstones by type and key (what the sync compares a peer's resources with). */
export async function tombstonesOf(q: Queryable, tenantId: string): Promise<Map<string, Date>> {
  const rows = await q.select().from(scimTombstones).where(eq(scimTombstones.tenantId, tenantId));
  return new Map(rows.map((r) => [`${r.resourceType}:${r.key}`, r.deletedAt]));
}

/** Deletes tombstones older than `days` (a peer away longer needs a full resync: docs/scim-sync.md). */
export async function purgeTombstones(q: Queryable, days: number): Promise<void> {
  await q.delete(scimTombstones).where(sql`${scimTombstones.deletedAt} < now() - make_interval(days => ${days})`);
}
