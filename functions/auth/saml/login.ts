// POST {issuer}/saml/login: the sign-in of a pending SAML request. The password (throttled per
// account and address, as at {issuer}/login), then the second factor when the user has one; the
// session it starts is the tenant's one browser session, shared with OIDC sign-ins.
import type { Context } from 'hono';
import { and, count, eq, gt, sql } from 'drizzle-orm';
import { ACR } from '../core/acr.js';
import { recordAudit, type RequestMeta } from '../core/audit.js';
import { safeEqual } from '../core/crypto.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { mfaRequiredFor } from '../core/mfa-policy.js';
import { hashPassword, MAX_PASSWORD_BYTES, needsRehash, verifyAgainstDummy, verifyPassword } from '../core/passwords.js';
import { samlEndpoints } from '../core/saml/idp-metadata.js';
import { findPending, loginCsrf, setPendingUser } from '../core/saml/requests.js';
import { SamlError } from '../core/saml/saml-error.js';
import { findSpById } from '../core/saml/service-providers.js';
import { audit, type Tenant, type User } from '../core/schema.js';
import { createSession } from '../core/sessions.js';
import { backoffSeconds, checkLoginThrottle } from '../core/throttle.js';
import { hasConfirmedTotp, useRecoveryCode, verifyTotp } from '../core/totp-credentials.js';
import { findUserById, findUserByLogin, normaliseUsername, updateUser } from '../core/users.js';
import { BROWSER_COOKIE, readCookie, setSessionCookie } from '../authorize/cookies.js';
import { ErrorPage } from '../authorize/pages/error-page.js';
import { LoginPage } from '../authorize/pages/login-page.js';
import { TotpChallengePage } from '../authorize/pages/totp-pages.js';
import { sendPage } from '../authorize/responses.js';
import type { SamlContext } from './context.js';
import { answerSso } from './sso.js';

/** Wrong codes per user before the delays start, the first delay and its cap (seconds): as at {issuer}/login/second-factor. */
const CODE_THROTTLE = Object.freeze({ windowSeconds: 900, free: 3, base: 15, max: 300 });

const expired = () => new SamlError('login_expired', 'This sign-in has expired or was not opened in this browser. Start again from the application.');

export async function samlLoginEndpoint(c: Context, s: SamlContext, tenant: Tenant, meta: RequestMeta): Promise<Response> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new SamlError('invalid_binding', 'This form was not sent the way a browser sends it.', 415);
  const form = new URLSearchParams(await c.req.text());
  const handle = form.get('interaction') ?? '';
  const browser = readCookie(c, BROWSER_COOKIE);
  if (!handle || !browser) throw expired();
  const expected = loginCsrf(browser, handle);
  if (!safeEqual(form.get('csrf') ?? '', expected)) throw expired();
  const pending = await findPending(s.rt.db, tenant.id, handle);
  if (!pending || !safeEqual(pending.row.csrf, expected)) throw expired();
  const sp = await findSpById(s.rt.db, tenant.id, pending.sso.spId);
  if (!sp) throw expired();
  const idp = samlEndpoints(s.rt.issuer(tenant.slug));
  const spName = sp.name ?? sp.entityId;

  const begin = async (user: User, acr: string, amr: string[]) => {
    const created = await s.rt.transaction(async (tx) => {
      const sess = await createSession(tx, { tenantId: tenant.id, userId: user.id, acr, amr, userAgent: meta.userAgent, ip: meta.ip });
      await recordAudit(tx, { tenantId: tenant.id, action: 'login', outcome: 'success', actor: user.id, clientId: sp.entityId, detail: { session: sess.session.id, amr, via: 'saml' } }, meta);
      await s.rt.events.emit(tx, { type: AUTH_EVENTS.loginSucceeded, data: { tenant: tenant.slug, userId: user.id, sessionId: sess.session.id, clientId: null } });
      return sess;
    });
    setSessionCookie(c, s.rt, tenant, created.secret);
    return answerSso(c, s, tenant, sp, pending.sso, pending.row.id, { session: created.session, user }, meta);
  };

  if (pending.row.userId) {
    // The second step: the password was right, the code of the user's authenticator is asked.
    const user = await findUserById(s.rt.db, tenant.id, pending.row.userId);
    if (!user?.active) throw expired();
    const again = (status: number, error: string) => sendPage(c, status, TotpChallengePage({ action: idp.login, interaction: handle, csrf: expected, tenantName: tenant.displayName, error }));
    const [recent] = await s.rt.db
      .select({ n: count(), last: sql<string | null>`max(${audit.at})` })
      .from(audit)
      .where(and(eq(audit.tenantId, tenant.id), eq(audit.action, 'login.second_factor'), eq(audit.outcome, 'failure'), eq(audit.actor, user.id), gt(audit.at, sql`now() - make_interval(secs => ${CODE_THROTTLE.windowSeconds})`)));
    const delay = backoffSeconds(recent?.n ?? 0, CODE_THROTTLE.free, CODE_THROTTLE.base, CODE_THROTTLE.max);
    const waitUntil = recent?.last ? new Date(recent.last).getTime() + delay * 1000 : 0;
    if (delay && waitUntil > Date.now()) {
      c.header('retry-after', String(Math.ceil((waitUntil - Date.now()) / 1000)));
      return again(429, 'Too many wrong codes. Wait, then try again.');
    }
    const code = (form.get('code') ?? '').replace(/\s/g, '').slice(0, 64);
    if (!code) return again(400, 'Enter the code from your authenticator app.');
    const isTotp = /^[0-9]{6,8}$/.test(code);
    const result = isTotp ? await verifyTotp(s.rt.db, s.rt.mfa, tenant.id, user.id, code, Math.floor(Date.now() / 1000)) : (await useRecoveryCode(s.rt.db, s.rt.mfa, tenant.id, user.id, code)) ? 'ok' : 'invalid';
    if (result !== 'ok') {
      await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'login.second_factor', outcome: 'failure', actor: user.id, clientId: sp.entityId, detail: { reason: result, via: 'saml' } }, meta);
      return again(401, result === 'replayed' ? 'That code was already used. Wait for the next one.' : 'That code is not right.');
    }
    // RFC 8176: "otp" for the code, "mfa" as two factors were used.
    return begin(user, ACR.mfa, ['pwd', 'otp', 'mfa']);
  }

  const username = (form.get('username') ?? '').slice(0, 256);
  const password = form.get('password') ?? '';
  const again = (status: number, error: string) =>
    sendPage(c, status, LoginPage({ action: idp.login, interaction: handle, csrf: expected, clientName: spName, tenantName: tenant.displayName, username, error }));
  if (!username.trim() || !password) return again(400, 'Enter your username and password.');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return again(400, 'That password is too long.');
  const account = normaliseUsername(username);
  const user = await findUserByLogin(s.rt.db, tenant.id, account);
  const throttle = await checkLoginThrottle(s.rt.db, tenant.id, account, user?.id, meta.ip);
  if (throttle.limited) {
    await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'login.throttled', outcome: 'failure', actor: account, clientId: sp.entityId, detail: { reason: throttle.reason, retryAfter: throttle.retryAfterSeconds } }, meta);
    c.header('retry-after', String(throttle.retryAfterSeconds));
    return again(429, 'Too many failed sign-in attempts. Wait, then try again.');
  }
  const ok = user?.passwordHash ? await verifyPassword(user.passwordHash, password) : await verifyAgainstDummy(password);
  if (!ok || !user?.active) {
    const reason = !user ? 'unknown_user' : !ok ? 'bad_password' : 'disabled';
    await s.rt.transaction(async (tx) => {
      await recordAudit(tx, { tenantId: tenant.id, action: 'login', outcome: 'failure', actor: account, clientId: sp.entityId, detail: { reason, via: 'saml' } }, meta);
      await s.rt.events.emit(tx, { type: AUTH_EVENTS.loginFailed, data: { tenant: tenant.slug, username: account, reason } });
    });
    return again(401, 'Incorrect username or password.');
  }
  if (needsRehash(user.passwordHash!)) await updateUser(s.rt.db, tenant.id, user.id, { passwordHash: await hashPassword(password) });
  if (await hasConfirmedTotp(s.rt.db, tenant.id, user.id)) {
    await setPendingUser(s.rt.db, tenant.id, pending.row.id, user.id);
    await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'login.password', outcome: 'success', actor: user.id, clientId: sp.entityId, detail: { next: 'totp', via: 'saml' } }, meta);
    return sendPage(c, 200, TotpChallengePage({ action: idp.login, interaction: handle, csrf: expected, tenantName: tenant.displayName }));
  }
  if (await mfaRequiredFor(s.rt.db, tenant.id, user.id)) {
    return sendPage(c, 403, ErrorPage({ title: 'Set up a second factor', message: `Your organisation requires an authenticator app. Set one up at ${s.rt.issuer(tenant.slug)}/account/totp, then sign in again.` }));
  }
  return begin(user, ACR.password, ['pwd']);
}
