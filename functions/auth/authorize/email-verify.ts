// GET/POST {issuer}/email/verify?token=…: confirms an address from its single-use link, after
// sign-up or for a change (which applies only now, and is then announced to the former address).
// GET shows a button, POST spends the link.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { loadPageBrand } from '../core/branding.js';
import { safeEqual, sha256Hex } from '../core/crypto.js';
import { applyConfirmedEmail, emailTaken, peekEmailConfirmation, useEmailConfirmation } from '../core/email-confirmations.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findUserById } from '../core/users.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { requestEmailChangedNotice } from './confirmation-mail.js';
import { browserId } from './cookies.js';
import { browserParams } from './html-form.js';
import { ConfirmEmailPage, EmailConfirmedPage } from './pages/email-pages.js';
import { AuthorizePageError, sendPage } from './responses.js';

const csrfOf = (browser: string) => sha256Hex(`email:${browser}`);
const badLink = () => new AuthorizePageError(400, 'invalid_confirmation_link', 'This link has expired or was already used. Ask for a new one.');

export async function verifyEmailEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const csrf = csrfOf(browserId(c, rt, tenant));
  const form = await browserParams(c);
  const token = (form.get('token') ?? '').slice(0, 64);
  const meta = requestMeta(c, rt);
  const brand = await loadPageBrand(rt.db, tenant);
  if (c.req.method === 'GET') {
    const pending = await peekEmailConfirmation(rt.db, tenant.id, token);
    if (!pending) throw badLink();
    return sendPage(c, 200, ConfirmEmailPage({ action: `${issuer}/email/verify`, csrf, token, email: pending.email, brand }), brand);
  }
  if (!safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; open the link again.');
  const outcome = await rt.transaction(async (tx) => {
    const pending = await useEmailConfirmation(tx, tenant.id, token);
    if (!pending) return { ok: false as const, reason: 'invalid_link' };
    // The address may have been taken by another account since the link was sent.
    if (await emailTaken(tx, tenant.id, pending.email, pending.userId)) return { ok: false as const, reason: 'email_taken', userId: pending.userId };
    const before = await findUserById(tx, tenant.id, pending.userId);
    const user = before && (await applyConfirmedEmail(tx, tenant.id, pending.userId, pending.email));
    if (!before || !user) return { ok: false as const, reason: 'invalid_link' };
    const action = pending.purpose === 'change' ? 'email.changed' : 'email.verified';
    const noticed = await requestEmailChangedNotice(tx, rt, tenant, before, pending.email);
    await recordAudit(tx, { tenantId: tenant.id, action, outcome: 'success', actor: user.id, ...(noticed ? { detail: { noticeToFormerAddress: true } } : {}) }, meta);
    await rt.events.emit(tx, { type: AUTH_EVENTS.userUpdated, data: { tenant: tenant.slug, userId: user.id, username: user.username, active: user.active } });
    return { ok: true as const, email: pending.email };
  });
  if (!outcome.ok) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'email.verify', outcome: 'failure', actor: outcome.userId ?? null, detail: { reason: outcome.reason } }, meta);
    if (outcome.reason === 'email_taken') throw new AuthorizePageError(409, 'email_taken', 'This address is now used by another account. Choose another one.');
    throw badLink();
  }
  return sendPage(c, 200, EmailConfirmedPage({ email: outcome.email, brand }), brand);
}
