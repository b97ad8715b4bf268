// GET/POST {issuer}/account/passkeys: a signed-in user lists their passkeys, adds one (the script
// fetches creation options from …/account/passkeys/options, then posts the attestation here) and
// removes one. A user who has a second factor changes them only from a session that used one.
import type { Context } from 'hono';
import { ACR } from '../core/acr.js';
import { recordAudit } from '../core/audit.js';
import { safeEqual } from '../core/crypto.js';
import { insertPasskey, listPasskeys, MAX_PASSKEYS_PER_USER, removePasskey } from '../core/passkeys.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Session, Tenant, User } from '../core/schema.js';
import { hasRecoveryCodes, hasSecondFactor } from '../core/second-factors.js';
import { findLiveSession } from '../core/sessions.js';
import { issueRecoveryCodes } from '../core/totp-credentials.js';
import { challengeOf, parseRegistrationResponse, PasskeyError, registrationOptions, verifyRegistration } from '../core/webauthn.js';
import { issueChallenge, takeChallenge } from '../core/webauthn-challenges.js';
import { relyingPartyOf } from '../core/webauthn-settings.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { accountCsrf } from './account-sessions.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { readCookie, SESSION_COOKIE } from './cookies.js';
import { browserParams } from './html-form.js';
import { ErrorPage } from './pages/error-page.js';
import { AccountPasskeysPage } from './pages/passkey-pages.js';
import { AuthorizePageError, sendPage } from './responses.js';

interface Account {
  tenant: Tenant;
  issuer: string;
  session: Session;
  user: User;
  csrf: string;
  form: URLSearchParams;
}

/** The signed-in user, with the CSRF check of a POST; or the response that says why not. */
async function account(c: Context, rt: AuthRuntime): Promise<Account | Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const secret = readCookie(c, SESSION_COOKIE);
  const live = await findLiveSession(rt.db, tenant.id, secret);
  if (!live) return sendPage(c, 401, ErrorPage({ title: 'You are not signed in', message: 'Sign in to an application of this organisation first.' }));
  const csrf = accountCsrf(secret!);
  const form = await browserParams(c);
  if (c.req.method === 'POST' && !safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
  return { tenant, issuer: rt.issuer(tenant.slug), session: live.session, user: live.user, csrf, form };
}

/** Adding or removing an authenticator needs the strongest sign-in the user can do. */
async function mayChangeFactors(rt: AuthRuntime, a: Account): Promise<boolean> {
  return a.session.acr === ACR.mfa || !(await hasSecondFactor(rt.db, a.tenant.id, a.user.id));
}

const stepUpPage = (c: Context) =>
  sendPage(c, 403, ErrorPage({ title: 'Sign in again', message: 'To change your passkeys, sign out and sign in again with your second factor.' }));

export async function accountPasskeyOptionsEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const a = await account(c, rt);
  if (a instanceof Response) return a;
  if (!(await mayChangeFactors(rt, a))) return stepUpPage(c);
  const existing = await listPasskeys(rt.db, a.tenant.id, a.user.id);
  if (existing.length >= MAX_PASSKEYS_PER_USER) throw new AuthorizePageError(409, 'too_many_passkeys', `You have ${MAX_PASSKEYS_PER_USER} passkeys; remove one first.`);
  const rp = await relyingPartyOf(rt.db, a.tenant, rt.baseUrl);
  const challenge = await issueChallenge(rt.db, { tenantId: a.tenant.id, purpose: 'register', userId: a.user.id, binding: `session:${a.session.id}` });
  return c.json(await registrationOptions(rp, a.user, challenge, existing), 200, { 'cache-control': 'no-store' });
}

export async function accountPasskeysEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const a = await account(c, rt);
  if (a instanceof Response) return a;
  const meta = requestMeta(c, rt);
  const page = async (status: number, extra: { notice?: string; error?: string; recoveryCodes?: string[] } = {}) =>
    sendPage(c, status, AccountPasskeysPage({ issuer: a.issuer, csrf: a.csrf, username: a.user.username, passkeys: await listPasskeys(rt.db, a.tenant.id, a.user.id), ...extra }));
  if (c.req.method === 'GET') return page(200);
  if (!(await mayChangeFactors(rt, a))) return stepUpPage(c);

  const op = a.form.get('op');
  if (op === 'remove') {
    const removed = await rt.transaction(async (tx) => {
      const r = await removePasskey(tx, a.tenant.id, a.user.id, a.form.get('passkey') ?? '');
      if (r) await recordAudit(tx, { tenantId: a.tenant.id, action: 'mfa.passkey.removed', outcome: 'success', actor: a.user.id, detail: { passkey: r.id, session: a.session.id } }, meta);
      return r;
    });
    if (!removed) return page(404, { error: 'That passkey does not exist or was already removed.' });
    return page(200, { notice: `The passkey “${removed.name}” was removed.` });
  }
  if (op !== 'register') throw new AuthorizePageError(400, 'invalid_request', 'This request is not valid.');

  const rp = await relyingPartyOf(rt.db, a.tenant, rt.baseUrl);
  const name = (a.form.get('name') ?? '').trim().slice(0, 64) || 'Passkey';
  try {
    const response = parseRegistrationResponse(a.form.get('credential') ?? '');
    const challenge = challengeOf(response);
    const taken = await takeChallenge(rt.db, { tenantId: a.tenant.id, purpose: 'register', binding: `session:${a.session.id}`, challenge });
    if (!taken.ok) throw new PasskeyError(taken.reason);
    if (taken.userId !== a.user.id) throw new PasskeyError('wrong_user');
    const v = await verifyRegistration(rp, response, challenge);
    const codes = await rt.transaction(async (tx) => {
      if ((await listPasskeys(tx, a.tenant.id, a.user.id)).length >= MAX_PASSKEYS_PER_USER) throw new PasskeyError('too_many_passkeys');
      const stored = await insertPasskey(tx, rt.mfa, { tenantId: a.tenant.id, userId: a.user.id, name, ...v });
      if (!stored) throw new PasskeyError('already_registered');
      await recordAudit(tx, { tenantId: a.tenant.id, action: 'mfa.passkey.registered', outcome: 'success', actor: a.user.id, detail: { passkey: stored.id, deviceType: v.deviceType, attestation: v.attestationFormat, session: a.session.id } }, meta);
      // The first second factor comes with recovery codes, as the authenticator app does.
      return (await hasRecoveryCodes(tx, a.tenant.id, a.user.id)) ? undefined : issueRecoveryCodes(tx, rt.mfa, a.tenant.id, a.user.id);
    });
    return page(200, { notice: `The passkey “${name}” was added.`, ...(codes ? { recoveryCodes: codes } : {}) });
  } catch (err) {
    if (!(err instanceof PasskeyError)) throw err;
    await recordAudit(rt.db, { tenantId: a.tenant.id, action: 'mfa.passkey.registered', outcome: 'failure', actor: a.user.id, detail: { reason: err.code } }, meta);
    const error = err.code === 'already_registered' ? 'That passkey is already registered.' : err.code === 'too_many_passkeys' ? 'You have too many passkeys; remove one first.' : 'The passkey could not be added. Try again.';
    return page(400, { error });
  }
}
