// Admin API: a tenant's branding on its self-service pages (display name, logo URL, colours).
import type { Hono } from 'hono';
import { z } from 'zod';
import { recordAudit } from '../core/audit.js';
import { COLOUR, findBranding, saveBranding } from '../core/branding.js';
import type { AuthRuntime } from '../core/runtime.js';
import { adminBody } from './json.js';
import { admin, pathTenant } from './context.js';

const colour = z.string().regex(COLOUR, 'a colour as #rrggbb').nullable().default(null);

const brandingBody = z.object({
  displayName: z.string().trim().min(1).max(100).nullable().default(null),
  /** https only: the pages are served with a CSP that allows images from the logo's origin alone. */
  logoUrl: z
    .url({ protocol: /^https$/, hostname: z.regexes.domain })
    .max(2048)
    .nullable()
    .default(null),
  primaryColour: colour,
  backgroundColour: colour,
});

export function brandingRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/branding', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json(await findBranding(rt.db, tenant.id));
  });

  app.put('/auth/admin/tenants/:tenant/branding', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, brandingBody);
    await rt.transaction(async (tx) => {
      await saveBranding(tx, tenant.id, body);
      await recordAudit(tx, { tenantId: tenant.id, action: 'tenant.branding.updated', outcome: 'success', actor: `admin:${a.actor}`, detail: body }, a.meta);
    });
    return c.json(body);
  });
}
