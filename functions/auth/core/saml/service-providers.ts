// SQL for the registered SAML service providers; every query is scoped to its tenant.
import { and, asc, eq, isNotNull, lt, or, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { samlServiceProviders, type SamlServiceProvider } from '../schema.js';
import type { spValues } from './sp-registration.js';

/** A registration's columns, and where its metadata comes from when it is read from a URL. */
type SpValues = ReturnType<typeof spValues> & {
  metadataUrl?: string | null;
  metadataRefreshedAt?: Date | null;
  metadataCheckedAt?: Date | null;
  metadataError?: string | null;
};

export async function insertSp(q: Queryable, v: SpValues): Promise<SamlServiceProvider | undefined> {
  const [row] = await q.insert(samlServiceProviders).values(v).onConflictDoNothing().returning();
  return row;
}

export async function replaceSp(q: Queryable, tenantId: string, id: string, v: SpValues): Promise<SamlServiceProvider | undefined> {
  const [row] = await q
    .update(samlServiceProviders)
    .set({ ...v, updatedAt: sql`now()` })
    .where(and(eq(samlServiceProviders.tenantId, tenantId), eq(samlServiceProviders.id, id)))
    .returning();
  return row;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function findSpById(q: Queryable, tenantId: string, id: string): Promise<SamlServiceProvider | undefined> {
  if (!UUID.test(id)) return undefined;
  const [row] = await q.select().from(samlServiceProviders).where(and(eq(samlServiceProviders.tenantId, tenantId), eq(samlServiceProviders.id, id)));
  return row;
}

export async function findSpByEntityId(q: Queryable, tenantId: string, entityId: string): Promise<SamlServiceProvider | undefined> {
  if (!entityId || entityId.length > 1024) return undefined;
  const [row] = await q.select().from(samlServiceProviders).where(and(eq(samlServiceProviders.tenantId, tenantId), eq(samlServiceProviders.entityId, entityId)));
  return row;
}

export async function listSps(q: Queryable, tenantId: string): Promise<SamlServiceProvider[]> {
  return q.select().from(samlServiceProviders).where(eq(samlServiceProviders.tenantId, tenantId)).orderBy(asc(samlServiceProviders.entityId)).limit(1000);
}

export async function deleteSp(q: Queryable, tenantId: string, id: string): Promise<SamlServiceProvider | undefined> {
  if (!UUID.test(id)) return undefined;
  const [row] = await q.delete(samlServiceProviders).where(and(eq(samlServiceProviders.tenantId, tenantId), eq(samlServiceProviders.id, id))).returning();
  return row;
}

/** SPs whose metadata URL was not read for `minutes`, the longest-waiting first; across tenants (the schedule's view). */
export async function spsDueForRefresh(q: Queryable, minutes: number, limit: number): Promise<SamlServiceProvider[]> {
  const t = samlServiceProviders;
  return q
    .select()
    .from(t)
    .where(and(isNotNull(t.metadataUrl), or(isNull(t.metadataCheckedAt), lt(t.metadataCheckedAt, sql`now() - make_interval(mins => ${minutes})`))))
    .orderBy(sql`${t.metadataCheckedAt} asc nulls first`)
    .limit(limit);
}

/** A refresh that failed: the registration stays as it was, the attempt and its error are kept. */
export async function recordRefreshFailure(q: Queryable, tenantId: string, id: string, error: string): Promise<void> {
  await q
    .update(samlServiceProviders)
    .set({ metadataCheckedAt: sql`now()`, metadataError: error.slice(0, 500) })
    .where(and(eq(samlServiceProviders.tenantId, tenantId), eq(samlServiceProviders.id, id)));
}
