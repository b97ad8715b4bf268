// Admin API: a tenant's WebAuthn relying party (RP ID, origins, user verification, attestation)
// and a user's passkeys (list, remove).
import type { Hono } from 'hono';
import { z } from 'zod';
import { AppError, notFound } from '#shared/http/errors';
import { recordAudit } from '../core/audit.js';
import { listPasskeys, removePasskey } from '../core/passkeys.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { WebauthnCredential } from '../core/schema.js';
import { findUserById } from '../core/users.js';
import { findWebauthnSettings, relyingPartyOf, rpIdFitsOrigin, saveWebauthnSettings } from '../core/webauthn-settings.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

const settingsBody = z.object({
  /** null: the host of the public base URL. */
  rp_id: z.string().min(1).max(253).regex(/^[a-z0-9.-]+$/).nullable().default(null),
  origins: z.array(z.string().max(2048)).max(20).default([]),
  user_verification: z.enum(['required', 'preferred', 'discouraged']).default('preferred'),
  attestation: z.enum(['none', 'direct']).default('none'),
});

const passkeyView = (k: WebauthnCredential) => ({
  id: k.id,
  name: k.name,
  device_type: k.deviceType,
  backed_up: k.backedUp,
  aaguid: k.aaguid,
  attestation_format: k.attestationFormat,
  created_at: k.createdAt.toISOString(),
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
});

export function webauthnRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/webauthn', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const s = await findWebauthnSettings(rt.db, tenant.id);
    const effective = await relyingPartyOf(rt.db, tenant, rt.baseUrl);
    return c.json({ rp_id: s.rpId, origins: s.origins, user_verification: s.userVerification, attestation: s.attestation, effective: { rp_id: effective.rpId, origins: effective.origins } });
  });

  app.put('/auth/admin/tenants/:tenant/webauthn', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, settingsBody);
    const rpId = body.rp_id ?? new URL(rt.baseUrl).hostname;
    const origins = body.origins.length ? body.origins : [new URL(rt.baseUrl).origin];
    // WebAuthn §5.1.3: the RP ID must be the origin's host or a registrable suffix of it, over a secure origin.
    const misfit = origins.find((o) => !rpIdFitsOrigin(rpId, o));
    if (misfit !== undefined) throw new AppError(422, 'invalid_origin', 'Unprocessable Content', { detail: `The origin ${misfit.slice(0, 200)} cannot use the RP ID ${rpId} (https, or http on localhost, on that host or below it).` });
    const settings = { rpId: body.rp_id, origins: [...new Set(body.origins)], userVerification: body.user_verification, attestation: body.attestation };
    await rt.transaction(async (tx) => {
      await saveWebauthnSettings(tx, tenant.id, settings);
      await recordAudit(tx, { tenantId: tenant.id, action: 'tenant.webauthn.updated', outcome: 'success', actor: `admin:${a.actor}`, detail: { ...settings } }, a.meta);
    });
    return c.json({ rp_id: settings.rpId, origins: settings.origins, user_verification: settings.userVerification, attestation: settings.attestation });
  });

  app.get('/auth/admin/tenants/:tenant/users/:user/passkeys', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const userId = c.req.param('user');
    if (!/^[0-9a-f-]{36}$/i.test(userId) || !(await findUserById(rt.db, tenant.id, userId))) throw notFound('No such user.');
    return c.json({ passkeys: (await listPasskeys(rt.db, tenant.id, userId)).map(passkeyView) });
  });

  app.delete('/auth/admin/tenants/:tenant/users/:user/passkeys/:id', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const userId = c.req.param('user');
    if (!/^[0-9a-f-]{36}$/i.test(userId)) throw notFound('No such passkey.');
    await rt.transaction(async (tx) => {
      const removed = await removePasskey(tx, tenant.id, userId, c.req.param('id'));
      if (!removed) throw notFound('No such passkey.');
      await recordAudit(tx, { tenantId: tenant.id, action: 'mfa.passkey.removed', outcome: 'success', actor: `admin:${a.actor}`, detail: { passkey: removed.id, user: userId } }, a.meta);
    });
    return c.body(null, 204);
  });
}
