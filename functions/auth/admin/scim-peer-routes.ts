// Admin API: the peer sites a tenant syncs its users and groups with (cross-site SCIM sync,
// docs/scim-sync.md). The peer's credential is sealed at rest and never shown again.
import type { Hono } from 'hono';
import { z } from 'zod';
import { conflict, notFound } from '#shared/http/errors';
import { recordAudit } from '../core/audit.js';
import { isUuid } from '../core/groups.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { ScimSyncPeer } from '../core/schema.js';
import { createPeer, deletePeer, findPeer, listPeers } from '../core/scim-peers.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

const peerBody = z.object({
  name: z.string().min(1).max(200),
  url: z
    .string()
    .max(2000)
    .url()
    .refine((u) => /^https?:$/.test(URL.parse(u)?.protocol ?? ''), 'the URL must be http or https'),
  token: z.string().min(1).max(8192),
});

/** What an admin sees of a peer: never the credential. */
const view = (p: ScimSyncPeer) => ({ id: p.id, name: p.name, url: p.url, lastRoundAt: p.lastRoundAt, lastError: p.lastError, createdAt: p.createdAt });

export function scimPeerRoutes(app: Hono, rt: AuthRuntime): void {
  const base = '/auth/admin/tenants/:tenant/scim-peers';

  app.get(base, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ peers: (await listPeers(rt.db, tenant.id)).map(view) });
  });

  app.post(base, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, peerBody);
    const p = await rt.transaction(async (tx) => {
      const p = await createPeer(tx, rt.pushSealer, tenant.id, body);
      if (!p) throw conflict('peer_exists', 'A sync peer of this tenant already has that name.');
      await recordAudit(tx, { tenantId: tenant.id, action: 'scim-peer.created', outcome: 'success', actor: `admin:${a.actor}`, detail: { peer: p.id, url: p.url } }, a.meta);
      return p;
    });
    return c.json(view(p), 201);
  });

  app.get(`${base}/:id`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const id = c.req.param('id');
    const p = isUuid(id) ? await findPeer(rt.db, tenant.id, id) : undefined;
    if (!p) throw notFound('No such sync peer.');
    return c.json(view(p));
  });

  app.delete(`${base}/:id`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const id = c.req.param('id');
    await rt.transaction(async (tx) => {
      if (!isUuid(id) || !(await deletePeer(tx, tenant.id, id))) throw notFound('No such sync peer.');
      await recordAudit(tx, { tenantId: tenant.id, action: 'scim-peer.deleted', outcome: 'success', actor: `admin:${a.actor}`, detail: { peer: id } }, a.meta);
    });
    return c.body(null, 204);
  });
}
