// Tenant queries and rules: each tenant is an issuer at {base}/auth/{slug}; nothing crosses tenants.
import { eq } from 'drizzle-orm';
import type { Db, Queryable } from '#shared/db/index';
import { tenants, type Tenant } from './schema.js';

/** Lower-case DNS-label-like slugs; `admin` is the admin API's path segment. */
const TENANT_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED = new Set(['admin', '.well-known']);

export function isValidTenantSlug(slug: string): boolean {
  return TENANT_SLUG.test(slug) && !RESERVED.has(slug);
}

/** The issuer identifier of a tenant (OIDC Discovery §3; no trailing slash). */
export function issuerFor(baseUrl: string, slug: string): string {
  return `${baseUrl}/auth/${slug}`;
}

export async function findTenantBySlug(q: Queryable, slug: string): Promise<Tenant | undefined> {
  if (!isValidTenantSlug(slug) && slug !== 'system') return undefined;
  const [row] = await q.select().from(tenants).where(eq(tenants.slug, slug)).limit(1);
  return row;
}

export async function createTenant(q: Queryable, slug: string, displayName: string): Promise<Tenant | undefined> {
  const [row] = await q.insert(tenants).values({ slug, displayName }).onConflictDoNothing().returning();
  return row;
}

export async function listTenants(q: Queryable): Promise<Tenant[]> {
  return q.select().from(tenants).orderBy(tenants.slug);
}

export async function deleteTenant(q: Queryable, slug: string): Promise<Tenant | undefined> {
  const [row] = await q.delete(tenants).where(eq(tenants.slug, slug)).returning();
  return row;
}

/** A short-lived slug → tenant cache: tenants change rarely, every request needs one. */
export function createTenantResolver(db: Db, ttlMs = 5_000) {
  const cache = new Map<string, { tenant: Tenant | undefined; at: number }>();
  const fresh = (slug: string) => {
    const hit = cache.get(slug);
    return hit && Date.now() - hit.at < ttlMs ? hit : undefined;
  };
  return {
    /** The cached answer for `slug` while it is fresh (`{ tenant: undefined }` for a known miss). */
    peek(slug: string): { readonly tenant: Tenant | undefined } | undefined {
      return fresh(slug);
    },
    async resolve(slug: string): Promise<Tenant | undefined> {
      const hit = fresh(slug);
      if (hit) return hit.tenant;
      const tenant = await findTenantBySlug(db, slug);
      if (cache.size > 10_000) cache.clear();
      cache.set(slug, { tenant, at: Date.now() });
      return tenant;
    },
    forget(slug: string) {
      cache.delete(slug);
    },
  };
}
export type TenantResolver = ReturnType<typeof createTenantResolver>;
