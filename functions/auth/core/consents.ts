// Remembered consent: which scopes a user granted a third-party client.
import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { consents } from './schema.js';

export async function hasConsent(q: Queryable, userId: string, clientId: string, scopes: string[]): Promise<boolean> {
  const [row] = await q.select().from(consents).where(and(eq(consents.userId, userId), eq(consents.clientId, clientId)));
  return !!row && scopes.every((s) => row.scopes.includes(s));
}

export async function grantConsent(q: Queryable, tenantId: string, userId: string, clientId: string, scopes: string[]): Promise<void> {
  await q
    .insert(consents)
    .values({ tenantId, userId, clientId, scopes })
    .onConflictDoUpdate({
      target: [consents.userId, consents.clientId],
      set: { scopes: sql`(select array_agg(distinct s) from unnest(${consents.scopes} || excluded.scopes) s)`, updatedAt: sql`now()` },
    });
}
