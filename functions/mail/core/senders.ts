// Verified sender domains per tenant; the configured ones of tenant `system` come from the environment.
import { and, eq } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { senders } from './schema.js';

export async function isVerifiedSender(db: Queryable, tenant: string, domain: string, configured: readonly string[]): Promise<boolean> {
  if (tenant === 'system' && configured.includes(domain)) return true;
  const [row] = await db.select({ domain: senders.domain }).from(senders).where(and(eq(senders.tenant, tenant), eq(senders.domain, domain)));
  return row !== undefined;
}

export async function addSender(db: Queryable, tenant: string, domain: string): Promise<void> {
  await db.insert(senders).values({ tenant, domain }).onConflictDoNothing();
}

export async function removeSender(db: Queryable, tenant: string, domain: string): Promise<boolean> {
  return (await db.delete(senders).where(and(eq(senders.tenant, tenant), eq(senders.domain, domain))).returning()).length > 0;
}

export async function listSenders(db: Queryable, tenant: string): Promise<string[]> {
  return (await db.select({ domain: senders.domain }).from(senders).where(eq(senders.tenant, tenant)).orderBy(senders.domain)).map((r) => r.domain);
}
