// GET/POST {issuer}/account/password: the signed-in user changes (or, without one, sets) their
// password under the tenant's password policy; their other sessions end with their grants.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { loadPageBrand } from '../core/branding.js';
import { safeEqual } from '../core/crypto.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { PasswordPolicy } from '../core/password-policy.js';
import { hashPassword, verifyPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findLiveSession, revokeUserSessions } from '../core/sessions.js';
import { updateUser } from '../core/users.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { accountCsrf } from './account-sessions.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { readCookie, SESSION_COOKIE } from './cookies.js';
import { browserParams } from './html-form.js';
import { AccountPasswordPage } from './pages/email-pages.js';
import { ErrorPage } from './pages/error-page.js';
import { AuthorizePageError, sendPage } from './responses.js';

export async function accountPasswordEndpoint(c: Context, rt: AuthRuntime, passwords: PasswordPolicy): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const secret = readCookie(c, SESSION_COOKIE);
  const live = await findLiveSession(rt.db, tenant.id, secret);
  if (!live) return sendPage(c, 401, ErrorPage({ title: 'You are not signed in', message: 'Sign in to an application of this organisation first.' }));
  const { user, session } = live;
  const csrf = accountCsrf(secret!);
  const brand = await loadPageBrand(rt.db, tenant);
  const page = (status: number, extra: { notice?: string; error?: string } = {}) =>
    sendPage(c, status, AccountPasswordPage({ action: `${rt.issuer(tenant.slug)}/account/password`, csrf, minLength: passwords.minLength, hasPassword: user.passwordHash !== null, brand, ...extra }), brand);
  if (c.req.method === 'GET') return page(200);

  const form = await browserParams(c);
  if (!safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
  const meta = requestMeta(c, rt);
  if (user.passwordHash !== null && !(await verifyPassword(user.passwordHash, (form.get('current') ?? '').slice(0, 1024)))) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'password.change', outcome: 'failure', actor: user.id, detail: { reason: 'wrong_password' } }, meta);
    return page(400, { error: 'Your current password is not right.' });
  }
  const password = form.get('password') ?? '';
  const problem = await passwords.problem(password, user.username);
  if (problem) return page(400, { error: problem });
  const passwordHash = await hashPassword(password);
  await rt.transaction(async (tx) => {
    await updateUser(tx, tenant.id, user.id, { passwordHash });
    await revokeUserSessions(tx, tenant.id, user.id, session.id);
    await recordAudit(tx, { tenantId: tenant.id, action: 'password.change', outcome: 'success', actor: user.id }, meta);
    await rt.events.emit(tx, { type: AUTH_EVENTS.userUpdated, data: { tenant: tenant.slug, userId: user.id, username: user.username, active: user.active } });
  });
  return page(200, { notice: 'Your password was changed. Your other devices were signed out.' });
}
