// Password reset by a signed-in-nowhere user: {issuer}/password/forgot sends a single-use link
// through ZenoMail (the io.zenokube.auth.mail.requested event; the page never says whether the
// account exists), {issuer}/password/reset?token=… sets a new password, signs the user out
// everywhere and revokes every grant.
import type { Context } from 'hono';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { recordAudit } from '../core/audit.js';
import { loadPageBrand } from '../core/branding.js';
import { safeEqual, sha256Hex } from '../core/crypto.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { PasswordPolicy } from '../core/password-policy.js';
import { RESET_TTL_SECONDS, createPasswordReset, peekPasswordReset, usePasswordReset } from '../core/password-resets.js';
import { hashPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { tokenFamilies } from '../core/schema.js';
import { revokeUserSessions } from '../core/sessions.js';
import { findUserById, findUserByLogin, normaliseUsername, updateUser } from '../core/users.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { browserId } from './cookies.js';
import { browserParams } from './html-form.js';
import { ErrorPage } from './pages/error-page.js';
import { ForgotPasswordPage, NewPasswordPage } from './pages/password-pages.js';
import { AuthorizePageError, sendPage } from './responses.js';

const csrfOf = (browser: string) => sha256Hex(`password:${browser}`);
const badLink = () => new AuthorizePageError(400, 'invalid_reset_link', 'This link has expired or was already used. Ask for a new one.');

export async function forgotPasswordEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const csrf = csrfOf(browserId(c, rt, tenant));
  const brand = await loadPageBrand(rt.db, tenant);
  const page = (sent: boolean) => sendPage(c, 200, ForgotPasswordPage({ action: `${issuer}/password/forgot`, csrf, tenantName: brand.name, brand, sent }), brand);
  if (c.req.method === 'GET') return page(false);
  const form = await browserParams(c);
  if (!safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
  const login = normaliseUsername((form.get('username') ?? '').slice(0, 256));
  const user = login ? await findUserByLogin(rt.db, tenant.id, login) : undefined;
  const meta = requestMeta(c, rt);
  if (user?.active && user.email) {
    await rt.transaction(async (tx) => {
      const token = await createPasswordReset(tx, tenant.id, user.id);
      await recordAudit(tx, { tenantId: tenant.id, action: 'password.reset.requested', outcome: token ? 'success' : 'failure', actor: user.id, detail: token ? {} : { reason: 'too_many' } }, meta);
      if (!token) return;
      // The link goes to ZenoMail in the event only; the audit row and the logs never carry it.
      await rt.events.emit(tx, {
        type: AUTH_EVENTS.mailRequested,
        data: { tenant: tenant.slug, template: 'password-reset', to: user.email!, userId: user.id, variables: { name: user.username, link: `${issuer}/password/reset?token=${token}`, expiresInMinutes: String(RESET_TTL_SECONDS / 60), tenantName: tenant.displayName } },
      });
    });
  } else {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'password.reset.requested', outcome: 'failure', actor: login || null, detail: { reason: user ? 'no_email_or_disabled' : 'unknown_user' } }, meta);
  }
  // The same answer whatever happened: the page does not reveal which accounts exist.
  return page(true);
}

export async function resetPasswordEndpoint(c: Context, rt: AuthRuntime, passwords: PasswordPolicy): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const csrf = csrfOf(browserId(c, rt, tenant));
  const form = await browserParams(c);
  const token = (form.get('token') ?? '').slice(0, 64);
  const brand = await loadPageBrand(rt.db, tenant);
  if (c.req.method === 'GET') {
    if (!(await peekPasswordReset(rt.db, tenant.id, token))) throw badLink();
    return sendPage(c, 200, NewPasswordPage({ action: `${issuer}/password/reset`, csrf, token, minLength: passwords.minLength, brand }), brand);
  }
  if (!safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; open the link again.');
  const meta = requestMeta(c, rt);
  const pendingUser = await peekPasswordReset(rt.db, tenant.id, token);
  const user = pendingUser ? await findUserById(rt.db, tenant.id, pendingUser) : undefined;
  if (!user?.active) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'password.reset', outcome: 'failure', actor: pendingUser ?? null, detail: { reason: 'invalid_link' } }, meta);
    throw badLink();
  }
  const password = form.get('password') ?? '';
  const problem = await passwords.problem(password, user.username);
  if (problem) return sendPage(c, 400, NewPasswordPage({ action: `${issuer}/password/reset`, csrf, token, minLength: passwords.minLength, error: problem, brand }), brand);
  const passwordHash = await hashPassword(password);
  const done = await rt.transaction(async (tx) => {
    const userId = await usePasswordReset(tx, tenant.id, token);
    if (userId !== user.id) return false;
    await updateUser(tx, tenant.id, user.id, { passwordHash });
    await revokeUserSessions(tx, tenant.id, user.id);
    await tx
      .update(tokenFamilies)
      .set({ revokedAt: sql`now()`, revokedReason: 'password_changed' })
      .where(and(eq(tokenFamilies.tenantId, tenant.id), eq(tokenFamilies.userId, user.id), isNull(tokenFamilies.revokedAt)));
    await recordAudit(tx, { tenantId: tenant.id, action: 'password.reset', outcome: 'success', actor: user.id }, meta);
    await rt.events.emit(tx, { type: AUTH_EVENTS.userUpdated, data: { tenant: tenant.slug, userId: user.id, username: user.username, active: user.active } });
    return true;
  });
  if (!done) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'password.reset', outcome: 'failure', actor: user.id, detail: { reason: 'invalid_link' } }, meta);
    throw badLink();
  }
  return sendPage(c, 200, ErrorPage({ title: 'Your password was changed', message: 'Every device was signed out. Sign in again from your application with the new password.' }));
}
