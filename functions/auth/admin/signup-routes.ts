// Admin API: a tenant's self-service sign-up policy (off, open, invite-only; allowed e-mail
// domains), and invitations for invite-only sign-up (the link is in the answer, once).
import type { Hono } from 'hono';
import { z } from 'zod';
import { recordAudit } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import { createSignupInvite } from '../core/signup-invites.js';
import { findSignupPolicy, saveSignupPolicy } from '../core/signup-policy.js';
import { parseEmailAddress } from '../core/email-address.js';
import { AppError } from '#shared/http/errors';
import { adminBody } from './json.js';
import { admin, pathTenant } from './context.js';

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

const policyBody = z.object({
  mode: z.enum(['off', 'open', 'invite-only']),
  allowedDomains: z
    .array(z.string().trim().toLowerCase().regex(DOMAIN, 'a DNS domain such as example.com'))
    .max(100)
    .default([]),
});

const inviteBody = z.object({
  email: z.string().max(254).optional(),
  /** How long the link works: an hour to 30 days, a week by default. */
  expiresInHours: z.number().int().min(1).max(720).default(168),
});

export function signupRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/signup-policy', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json(await findSignupPolicy(rt.db, tenant.id));
  });

  app.put('/auth/admin/tenants/:tenant/signup-policy', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, policyBody);
    const policy = { mode: body.mode, allowedDomains: [...new Set(body.allowedDomains)] };
    await rt.transaction(async (tx) => {
      await saveSignupPolicy(tx, tenant.id, policy);
      await recordAudit(tx, { tenantId: tenant.id, action: 'tenant.signup_policy.updated', outcome: 'success', actor: `admin:${a.actor}`, detail: policy }, a.meta);
    });
    return c.json(policy);
  });

  app.post('/auth/admin/tenants/:tenant/signup-invites', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const body = await adminBody(c, inviteBody);
    const email = body.email === undefined ? undefined : parseEmailAddress(body.email);
    if (body.email !== undefined && !email) throw new AppError(422, 'invalid_email', 'Unprocessable Content', { detail: 'email is not an address such as name@example.com.' });
    const invite = await rt.transaction(async (tx) => {
      const created = await createSignupInvite(tx, tenant.id, { email, ttlSeconds: body.expiresInHours * 3600, createdBy: `admin:${a.actor}` });
      // The audit row names the invitation's address, never its link.
      await recordAudit(tx, { tenantId: tenant.id, action: 'signup.invite.created', outcome: 'success', actor: `admin:${a.actor}`, detail: { email: email ?? null } }, a.meta);
      return created;
    });
    c.header('cache-control', 'no-store');
    return c.json({ link: `${rt.issuer(tenant.slug)}/signup?invite=${invite.token}`, email: email ?? null, expiresAt: invite.expiresAt.toISOString() }, 201);
  });
}
