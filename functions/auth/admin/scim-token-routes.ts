// Admin API: the SCIM bearer tokens of a tenant (for Entra ID, Okta and other provisioning
// clients). The token is shown once, at creation; the database keeps a hash.
import type { Hono } from 'hono';
import { z } from 'zod';
import { notFound } from '#shared/http/errors';
import { recordAudit } from '../core/audit.js';
import { listScimTokens, mintScimToken, revokeScimToken } from '../core/scim-tokens.js';
import type { AuthRuntime } from '../core/runtime.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

const tokenBody = z.object({ name: z.string().min(1).max(200) });

export function scimTokenRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/scim-tokens', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ tokens: await listScimTokens(rt.db, tenant.id) });
  });

  app.post('/auth/admin/tenants/:tenant/scim-tokens', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const { name } = await adminBody(c, tokenBody);
    const minted = await rt.transaction(async (tx) => {
      const m = await mintScimToken(tx, tenant.id, name);
      await recordAudit(tx, { tenantId: tenant.id, action: 'scim-token.created', outcome: 'success', actor: `admin:${a.actor}`, detail: { token: m.id, name } }, a.meta);
      return m;
    });
    return c.json({ ...minted, scimBase: `${rt.issuer(tenant.slug)}/scim/v2` }, 201, { 'cache-control': 'no-store' });
  });

  app.delete('/auth/admin/tenants/:tenant/scim-tokens/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    await rt.transaction(async (tx) => {
      if (!(await revokeScimToken(tx, tenant.id, c.req.param('id')))) throw notFound('No such live SCIM token.');
      await recordAudit(tx, { tenantId: tenant.id, action: 'scim-token.revoked', outcome: 'success', actor: `admin:${a.actor}`, detail: { token: c.req.param('id') } }, a.meta);
    });
    return c.body(null, 204);
  });
}
