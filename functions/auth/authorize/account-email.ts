// GET/POST {issuer}/account/email: the signed-in user's address. A change sends a confirmation
// link to the new address and applies only when it is opened (never a token in a log); a user with
// a password confirms the change with it. An address in use elsewhere gets the same answer.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { loadPageBrand } from '../core/branding.js';
import { safeEqual } from '../core/crypto.js';
import { parseEmailAddress } from '../core/email-address.js';
import { emailTaken } from '../core/email-confirmations.js';
import { verifyPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findLiveSession } from '../core/sessions.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { accountCsrf } from './account-sessions.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { requestConfirmationMail } from './confirmation-mail.js';
import { readCookie, SESSION_COOKIE } from './cookies.js';
import { browserParams } from './html-form.js';
import { AccountEmailPage } from './pages/email-pages.js';
import { ErrorPage } from './pages/error-page.js';
import { AuthorizePageError, sendPage } from './responses.js';

const TOO_OFTEN = 'Too many links were sent in the last hour. Try again later.';

export async function accountEmailEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const secret = readCookie(c, SESSION_COOKIE);
  const live = await findLiveSession(rt.db, tenant.id, secret);
  if (!live) return sendPage(c, 401, ErrorPage({ title: 'You are not signed in', message: 'Sign in to an application of this organisation first.' }));
  const { user } = live;
  const csrf = accountCsrf(secret!);
  const brand = await loadPageBrand(rt.db, tenant);
  const page = (status: number, extra: { notice?: string; error?: string } = {}) =>
    sendPage(c, status, AccountEmailPage({ action: `${rt.issuer(tenant.slug)}/account/email`, csrf, email: user.email, verified: user.emailVerified, askPassword: user.passwordHash !== null, brand, ...extra }), brand);
  if (c.req.method === 'GET') return page(200);

  const form = await browserParams(c);
  if (!safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
  const meta = requestMeta(c, rt);
  if (form.get('op') === 'resend') {
    if (!user.email || user.emailVerified) return page(200, { notice: 'There is nothing to confirm.' });
    const sent = await rt.transaction((tx) => requestConfirmationMail(tx, rt, tenant, user, 'verify', user.email!));
    return sent ? page(200, { notice: `A new confirmation link is on its way to ${user.email}.` }) : page(429, { error: TOO_OFTEN });
  }
  if (form.get('op') !== 'change') throw new AuthorizePageError(400, 'invalid_request', 'This form was not sent the way the page sends it.');

  const email = parseEmailAddress((form.get('email') ?? '').slice(0, 300));
  if (!email) return page(400, { error: 'Enter an e-mail address such as name@example.com.' });
  if (user.passwordHash !== null && !(await verifyPassword(user.passwordHash, (form.get('password') ?? '').slice(0, 1024)))) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'email.change.requested', outcome: 'failure', actor: user.id, detail: { reason: 'wrong_password' } }, meta);
    return page(400, { error: 'That password is not right.' });
  }
  if (user.email?.toLowerCase() === email.toLowerCase() && user.emailVerified) return page(200, { notice: 'That is already your address.' });
  const sentNotice = `A link is on its way to ${email}. Your address changes when you open it.`;
  if (await emailTaken(rt.db, tenant.id, email, user.id)) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'email.change.requested', outcome: 'failure', actor: user.id, detail: { reason: 'email_taken' } }, meta);
    return page(200, { notice: sentNotice });
  }
  const sent = await rt.transaction(async (tx) => {
    const ok = await requestConfirmationMail(tx, rt, tenant, user, 'change', email);
    await recordAudit(tx, { tenantId: tenant.id, action: 'email.change.requested', outcome: ok ? 'success' : 'failure', actor: user.id, detail: ok ? {} : { reason: 'too_many' } }, meta);
    return ok;
  });
  return sent ? page(200, { notice: sentNotice }) : page(429, { error: TOO_OFTEN });
}
