// SQL for the registered SAML service providers; every query is scoped to its tenant.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { samlServiceProviders, type SamlServiceProvider } from '../schema.js';
import type { spValues } from './sp-registration.js';

type SpValues = ReturnType<typeof spValues>;

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
