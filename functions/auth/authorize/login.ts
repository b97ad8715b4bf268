// POST {issuer}/login: checks the password (throttled per account and source address), asks for a
// second factor when the user has one, starts a session, then resumes the authorization flow.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { hashPassword, MAX_PASSWORD_BYTES, needsRehash, verifyAgainstDummy, verifyPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { checkLoginThrottle } from '../core/throttle.js';
import { findUserByLogin, normaliseUsername, updateUser } from '../core/users.js';
import { tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { beginSession } from './begin-session.js';
import { setSessionCookie } from './cookies.js';
import { afterAuthentication } from './flow.js';
import { readInteractionForm } from './interaction-form.js';
import type { LoginCounters } from './login-metrics.js';
import { LoginPage } from './pages/login-page.js';
import { TotpChallengePage } from './pages/totp-pages.js';
import { sendPage } from './responses.js';
import type { SecondFactorPolicy } from './second-factor.js';

/** "40 seconds", "3 minutes": how long the page asks the user to wait. */
function waitWords(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

export async function loginEndpoint(c: Context, rt: AuthRuntime, secondFactor: SecondFactorPolicy, logins: LoginCounters): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const posted = await readInteractionForm(c, rt, tenant);
  const { flow: f, form, handle } = posted;
  const username = (form.get('username') ?? '').slice(0, 256);
  const password = form.get('password') ?? '';
  const again = (status: number, error: string) =>
    sendPage(c, status, LoginPage({ action: `${f.issuer}/login`, interaction: handle, csrf: posted.row.csrf!, clientName: f.client.name, tenantName: tenant.displayName, username, error }));
  if (!username.trim() || !password) return again(400, 'Enter your username and password.');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return again(400, 'That password is too long.');

  const account = normaliseUsername(username);
  const user = await findUserByLogin(rt.db, tenant.id, account);
  const throttle = await checkLoginThrottle(rt.db, tenant.id, account, user?.id, f.meta.ip);
  if (throttle.limited) {
    logins.failed('throttled');
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'login.throttled', outcome: 'failure', actor: account, clientId: f.client.clientId, detail: { reason: throttle.reason, retryAfter: throttle.retryAfterSeconds } }, f.meta);
    c.header('retry-after', String(throttle.retryAfterSeconds));
    return again(429, `Too many failed sign-in attempts. Wait ${waitWords(throttle.retryAfterSeconds ?? 60)}, then try again.`);
  }
  const ok = user?.passwordHash ? await verifyPassword(user.passwordHash, password) : await verifyAgainstDummy(password);
  if (!ok || !user?.active) {
    const reason = !user ? 'unknown_user' : !ok ? 'bad_password' : 'disabled';
    logins.failed(reason);
    await rt.transaction(async (tx) => {
      await recordAudit(tx, { tenantId: tenant.id, action: 'login', outcome: 'failure', actor: account, clientId: f.client.clientId, detail: { reason } }, f.meta);
      await rt.events.emit(tx, { type: AUTH_EVENTS.loginFailed, data: { tenant: tenant.slug, username: account, reason } });
    });
    // One message for every cause: the page does not reveal which accounts exist or are disabled.
    return again(401, 'Incorrect username or password.');
  }
  logins.succeeded();
  if (needsRehash(user.passwordHash!)) await updateUser(rt.db, tenant.id, user.id, { passwordHash: await hashPassword(password) });

  const step = await secondFactor.afterPassword({ tenant, user, interactionHandle: handle });
  if (step.kind === 'challenge') {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'login.password', outcome: 'success', actor: user.id, clientId: f.client.clientId, detail: { next: step.methods.totp ? 'totp' : 'passkey' } }, f.meta);
    return sendPage(c, 200, TotpChallengePage({ action: `${f.issuer}/login/second-factor`, interaction: handle, csrf: posted.row.csrf!, tenantName: tenant.displayName, methods: step.methods }));
  }

  const created = await rt.transaction((tx) => beginSession(c, tx, f, user, { acr: step.acr, amr: step.amr, method: 'password', authenticator: 'password' }));
  setSessionCookie(c, rt, tenant, created.secret);
  return afterAuthentication(c, f, posted.req, { session: created.session, user }, { row: posted.row, handle });
}
