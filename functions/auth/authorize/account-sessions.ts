// GET/POST {issuer}/account/sessions: a signed-in user lists their sessions (device, address,
// first and last seen, what they signed in with) and signs one or all other ones out; each
// signed-out session's refresh tokens are revoked with it.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { safeEqual, sha256Hex } from '../core/crypto.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findLiveSession, listSessions, revokeSession, revokeUserSessions } from '../core/sessions.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { clearCookie, readCookie, SESSION_COOKIE } from './cookies.js';
import { browserParams } from './html-form.js';
import { ErrorPage } from './pages/error-page.js';
import { SessionsPage } from './pages/sessions-page.js';
import { AuthorizePageError, sendPage } from './responses.js';

export const accountCsrf = (secret: string) => sha256Hex(`account:${secret}`);

export async function accountSessionsEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const secret = readCookie(c, SESSION_COOKIE);
  const live = await findLiveSession(rt.db, tenant.id, secret);
  if (!live) return sendPage(c, 401, ErrorPage({ title: 'You are not signed in', message: 'Sign in to an application of this organisation first.' }));
  let notice: string | undefined;
  if (c.req.method === 'POST') {
    const form = await browserParams(c);
    if (!safeEqual(form.get('csrf') ?? '', accountCsrf(secret!))) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
    if (form.get('op') === 'others') {
      const ended = await rt.transaction(async (tx) => {
        const ids = await revokeUserSessions(tx, tenant.id, live.user.id, live.session.id);
        for (const id of ids) {
          await recordAudit(tx, { tenantId: tenant.id, action: 'session.revoked', outcome: 'success', actor: live.user.id, detail: { session: id, reason: 'user' } }, requestMeta(c, rt));
          await rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId: id, userId: live.user.id, reason: 'user' } });
        }
        return ids.length;
      });
      const sessions = await listSessions(rt.db, tenant.id, live.user.id);
      const notice = ended === 1 ? 'One other session was signed out.' : `${ended} other sessions were signed out.`;
      return sendPage(c, 200, SessionsPage({ action: `${issuer}/account/sessions`, csrf: accountCsrf(secret!), username: live.user.username, current: live.session.id, sessions, notice }));
    }
    const target = form.get('session') ?? '';
    const mine = (await listSessions(rt.db, tenant.id, live.user.id)).some((s) => s.id === target);
    if (!mine) throw new AuthorizePageError(404, 'unknown_session', 'That session does not exist or has already ended.');
    await rt.transaction(async (tx) => {
      if (!(await revokeSession(tx, tenant.id, target))) return;
      await recordAudit(tx, { tenantId: tenant.id, action: 'session.revoked', outcome: 'success', actor: live.user.id, detail: { session: target, reason: 'user' } }, requestMeta(c, rt));
      await rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId: target, userId: live.user.id, reason: 'user' } });
    });
    if (target === live.session.id) {
      clearCookie(c, rt, tenant, SESSION_COOKIE);
      return sendPage(c, 200, ErrorPage({ title: 'Signed out', message: 'This device is signed out.' }));
    }
    notice = 'The session was signed out.';
  }
  const sessions = await listSessions(rt.db, tenant.id, live.user.id);
  return sendPage(c, 200, SessionsPage({ action: `${issuer}/account/sessions`, csrf: accountCsrf(secret!), username: live.user.username, current: live.session.id, sessions, notice }));
}
