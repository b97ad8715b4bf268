// GET/POST {issuer}/signup: self-service sign-up under the tenant's policy (off, open,
// invite-only; allowed domains). The user is created unverified and sent a confirmation link; an
// address already in use gets the same answer as a new one, so the page reveals no account.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { loadPageBrand } from '../core/branding.js';
import { safeEqual, sha256Hex } from '../core/crypto.js';
import { parseEmailAddress } from '../core/email-address.js';
import { emailTaken } from '../core/email-confirmations.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { PasswordPolicy } from '../core/password-policy.js';
import { hashPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { peekSignupInvite, useSignupInvite } from '../core/signup-invites.js';
import { signupsExhausted } from '../core/signup-throttle.js';
import { domainOf, findSignupPolicy, signupRefusal, type SignupRefusal } from '../core/signup-policy.js';
import { insertUser } from '../core/users.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { requestConfirmationMail } from './confirmation-mail.js';
import { browserId } from './cookies.js';
import { browserParams } from './html-form.js';
import { SignupPage } from './pages/signup-page.js';
import { AuthorizePageError, sendPage } from './responses.js';

const csrfOf = (browser: string) => sha256Hex(`signup:${browser}`);

const REFUSALS: Record<SignupRefusal, string> = {
  signup_off: 'This organisation does not take sign-ups. Ask its administrator for an account.',
  invite_required: 'Signing up here needs an invitation, and this one is missing, expired or already used.',
  invite_other_email: 'This invitation is for another e-mail address.',
  domain_not_allowed: 'Addresses of this domain cannot sign up here. Use your organisation’s address.',
};

export async function signupEndpoint(c: Context, rt: AuthRuntime, passwords: PasswordPolicy): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const csrf = csrfOf(browserId(c, rt, tenant));
  const meta = requestMeta(c, rt);
  const form = await browserParams(c);
  const brand = await loadPageBrand(rt.db, tenant);
  const policy = await findSignupPolicy(rt.db, tenant.id);
  const inviteToken = (form.get('invite') ?? '').slice(0, 64);
  const invite = inviteToken ? await peekSignupInvite(rt.db, tenant.id, inviteToken) : undefined;
  const page = (status: number, extra: { email?: string; name?: string; error?: string; sentTo?: string }) =>
    sendPage(c, status, SignupPage({ action: `${issuer}/signup`, csrf, tenantName: brand.name, brand, minLength: passwords.minLength, invite: invite ? inviteToken : undefined, ...extra }), brand);
  const refuse = async (reason: SignupRefusal, detail: Record<string, unknown> = {}) => {
    if (c.req.method === 'POST') await recordAudit(rt.db, { tenantId: tenant.id, action: 'user.signup', outcome: 'failure', actor: null, detail: { reason, ...detail } }, meta);
    return new AuthorizePageError(403, reason, REFUSALS[reason]);
  };

  // Before any address is known: sign-up off, or invite-only without a live invitation.
  if (policy.mode === 'off') throw await refuse('signup_off');
  if (policy.mode === 'invite-only' && !invite) throw await refuse('invite_required');
  if (c.req.method === 'GET') return page(200, { email: invite?.email ?? undefined });

  if (!safeEqual(form.get('csrf') ?? '', csrf)) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
  const rawEmail = (form.get('email') ?? '').slice(0, 300);
  const name = (form.get('name') ?? '').trim().slice(0, 200);
  const email = parseEmailAddress(rawEmail);
  if (!email) return page(400, { email: rawEmail, name, error: 'Enter an e-mail address such as name@example.com.' });
  const refusal = signupRefusal(policy, email, invite);
  if (refusal) {
    await refuse(refusal, { domain: domainOf(email) });
    return page(403, { email, name, error: REFUSALS[refusal] });
  }
  const password = form.get('password') ?? '';
  const problem = await passwords.problem(password, email);
  if (problem) return page(400, { email, name, error: problem });
  if (await signupsExhausted(rt.db, tenant.id, meta.ip)) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'user.signup', outcome: 'failure', actor: null, detail: { reason: 'too_many' } }, meta);
    return page(429, { email, name, error: 'Too many accounts were created from your network in the last hour. Try again later.' });
  }

  if (await emailTaken(rt.db, tenant.id, email)) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'user.signup', outcome: 'failure', actor: null, detail: { reason: 'email_taken' } }, meta);
    return page(200, { sentTo: email });
  }
  const passwordHash = await hashPassword(password);
  const created = await rt.transaction(async (tx) => {
    // Spent in the transaction that creates the user: two sign-ups with one invitation make one user.
    if (invite && !(await useSignupInvite(tx, tenant.id, inviteToken))) return 'invite_spent' as const;
    const user = await insertUser(tx, tenant.id, { username: email, email, emailVerified: false, name: name || undefined, passwordHash });
    if (!user) return 'taken' as const;
    await recordAudit(tx, { tenantId: tenant.id, action: 'user.signup', outcome: 'success', actor: user.id, detail: { invited: invite !== undefined } }, meta);
    await rt.events.emit(tx, { type: AUTH_EVENTS.userCreated, data: { tenant: tenant.slug, userId: user.id, username: user.username, externalId: null } });
    await requestConfirmationMail(tx, rt, tenant, user, 'verify', email);
    return 'created' as const;
  });
  if (created === 'invite_spent') throw await refuse('invite_required');
  if (created === 'taken') await recordAudit(rt.db, { tenantId: tenant.id, action: 'user.signup', outcome: 'failure', actor: null, detail: { reason: 'email_taken' } }, meta);
  return page(200, { sentTo: email });
}
