// A tenant's branding on its self-service pages: display name, logo and colours. The colours go
// into the page's stylesheet, so they are `#rrggbb` only; the text on a coloured surface is black
// or white, whichever contrasts more (WCAG 2.2 relative luminance), so a brand cannot make a page
// unreadable.
import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { tenantBrandings, type Tenant } from './schema.js';

export const COLOUR = /^#[0-9a-fA-F]{6}$/;

interface Branding {
  displayName: string | null;
  logoUrl: string | null;
  primaryColour: string | null;
  backgroundColour: string | null;
}

const NONE: Branding = { displayName: null, logoUrl: null, primaryColour: null, backgroundColour: null };

export async function findBranding(q: Queryable, tenantId: string): Promise<Branding> {
  const [row] = await q.select().from(tenantBrandings).where(eq(tenantBrandings.tenantId, tenantId));
  return row ? { displayName: row.displayName, logoUrl: row.logoUrl, primaryColour: row.primaryColour, backgroundColour: row.backgroundColour } : NONE;
}

/** Replaces the branding (fields left out are cleared). */
export async function saveBranding(q: Queryable, tenantId: string, b: Branding): Promise<void> {
  await q
    .insert(tenantBrandings)
    .values({ tenantId, ...b })
    .onConflictDoUpdate({ target: tenantBrandings.tenantId, set: { ...b, updatedAt: sql`now()` } });
}

/** What a page shows of a tenant: its name (the brand's, else the tenant's), logo and colours. */
export interface PageBrand {
  name: string;
  logoUrl?: string | undefined;
  primary?: string | undefined;
  background?: string | undefined;
}

function pageBrandOf(tenant: Tenant, b: Branding): PageBrand {
  return { name: b.displayName ?? tenant.displayName, logoUrl: b.logoUrl ?? undefined, primary: b.primaryColour ?? undefined, background: b.backgroundColour ?? undefined };
}

/**
 * Black or white, whichever contrasts more with `hex`.
 * @see https://www.w3.org/TR/WCAG22/#dfn-relative-luminance
 */
export function textOn(hex: string): '#000000' | '#ffffff' {
  if (!COLOUR.test(hex)) throw new TypeError('textOn takes #rrggbb');
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast with white is 1.05 / (l + 0.05), with black (l + 0.05) / 0.05.
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? '#ffffff' : '#000000';
}

export async function loadPageBrand(q: Queryable, tenant: Tenant): Promise<PageBrand> {
  return pageBrandOf(tenant, await findBranding(q, tenant.id));
}
