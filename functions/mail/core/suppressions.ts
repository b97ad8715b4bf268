// The suppression list: addresses (by blind index) that unsubscribed or bounced hard.
import { and, eq, inArray } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { suppressions } from './schema.js';

type SuppressionReason = 'unsubscribed' | 'hard_bounce';

/** The blind indexes among `indexes` that are suppressed. */
export async function suppressedAmong(db: Queryable, tenant: string, indexes: readonly string[]): Promise<Set<string>> {
  if (indexes.length === 0) return new Set();
  const rows = await db
    .select({ addressIndex: suppressions.addressIndex })
    .from(suppressions)
    .where(and(eq(suppressions.tenant, tenant), inArray(suppressions.addressIndex, [...indexes])));
  return new Set(rows.map((r) => r.addressIndex));
}

export async function suppress(db: Queryable, tenant: string, addressIndex: string, reason: SuppressionReason): Promise<void> {
  await db.insert(suppressions).values({ tenant, addressIndex, reason }).onConflictDoNothing();
}
