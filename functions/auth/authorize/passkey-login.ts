// Signing in with a passkey. POST {issuer}/login/passkey/options gives the browser the request
// options for this interaction: any discoverable credential of the tenant (mode=sign-in, no
// username), or one of the user's own passkeys after a right password (mode=second-factor).
// POST {issuer}/login/passkey verifies the answer and begins the session.
import type { Context } from 'hono';
import { and, eq, gt, sql } from 'drizzle-orm';
import { ACR } from '../core/acr.js';
import { recordAudit } from '../core/audit.js';
import { sha256Hex } from '../core/crypto.js';
import { advanceCounter, findPasskey, listPasskeys } from '../core/passkeys.js';
import type { AuthRuntime } from '../core/runtime.js';
import { mfaChallenges, type Tenant, type User, type WebauthnCredential } from '../core/schema.js';
import { findUserById } from '../core/users.js';
import { amrOfPasskey, authenticationOptions, challengeOf, parseAuthenticationResponse, PasskeyError, userHandleOf, verifyAssertion } from '../core/webauthn.js';
import { issueChallenge, takeChallenge } from '../core/webauthn-challenges.js';
import { relyingPartyOf, type RelyingParty } from '../core/webauthn-settings.js';
import { tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { beginSession } from './begin-session.js';
import { setSessionCookie } from './cookies.js';
import { afterAuthentication } from './flow.js';
import { readInteractionForm } from './interaction-form.js';
import { LoginPage } from './pages/login-page.js';
import { TotpChallengePage } from './pages/totp-pages.js';
import { AuthorizePageError, sendPage } from './responses.js';
import { secondFactorsOf } from '../core/second-factors.js';

type Mode = 'sign-in' | 'second-factor';

const modeOf = (v: string | null): Mode => {
  if (v === 'sign-in' || v === 'second-factor') return v;
  throw new AuthorizePageError(400, 'invalid_request', 'This sign-in request is not valid.');
};
const expired = () => new AuthorizePageError(400, 'challenge_expired', 'This sign-in has expired. Start again from the application.');

/** The sign-in waiting for its second factor under this interaction, if any. */
async function pendingSecondFactor(rt: AuthRuntime, tenant: Tenant, handle: string) {
  const [pending] = await rt.db
    .select()
    .from(mfaChallenges)
    .where(and(eq(mfaChallenges.interactionHash, sha256Hex(handle)), eq(mfaChallenges.tenantId, tenant.id), gt(mfaChallenges.expiresAt, sql`now()`)));
  return pending;
}

export async function passkeyOptionsEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const { form, handle } = await readInteractionForm(c, rt, tenant);
  const mode = modeOf(form.get('mode'));
  const rp = await relyingPartyOf(rt.db, tenant, rt.baseUrl);
  let options;
  if (mode === 'sign-in') {
    const challenge = await issueChallenge(rt.db, { tenantId: tenant.id, purpose: 'sign-in', userId: null, binding: handle });
    // Usernameless: no allowCredentials, the authenticator offers its discoverable credentials.
    options = await authenticationOptions(rp, challenge, undefined, 'required');
  } else {
    const pending = await pendingSecondFactor(rt, tenant, handle);
    if (!pending) throw expired();
    const mine = await listPasskeys(rt.db, tenant.id, pending.userId);
    if (!mine.length) throw new AuthorizePageError(400, 'no_passkey', 'You have no passkey.');
    const challenge = await issueChallenge(rt.db, { tenantId: tenant.id, purpose: 'second-factor', userId: pending.userId, binding: handle });
    options = await authenticationOptions(rp, challenge, mine, rp.userVerification);
  }
  return c.json(options, 200, { 'cache-control': 'no-store' });
}

interface Checked {
  credential: WebauthnCredential;
  user: User;
  kind: 'hwk' | 'swk';
  userVerified: boolean;
}

/**
 * Verifies an assertion for this interaction: the challenge (taken, so once), the credential
 * (of this tenant; of the pending user in the second-factor mode), the user handle, origin, RP
 * ID, signature and user verification, then the counter.
 */
async function checkAssertion(rt: AuthRuntime, tenant: Tenant, rp: RelyingParty, mode: Mode, handle: string, text: string, pendingUserId: string | undefined): Promise<Checked> {
  const response = parseAuthenticationResponse(text);
  const challenge = challengeOf(response);
  const taken = await takeChallenge(rt.db, { tenantId: tenant.id, purpose: mode, binding: handle, challenge });
  if (!taken.ok) throw new PasskeyError(taken.reason);
  const credential = await findPasskey(rt.db, rt.mfa, tenant.id, response.id);
  if (!credential) throw new PasskeyError('unknown_credential');
  if (mode === 'second-factor' && (credential.userId !== taken.userId || credential.userId !== pendingUserId)) throw new PasskeyError('wrong_user');
  // §7.2 step 6: the user handle, when given, must be the credential's owner.
  if (response.response.userHandle !== undefined && response.response.userHandle !== Buffer.from(userHandleOf(credential.userId)).toString('base64url')) throw new PasskeyError('wrong_user');
  const user = await findUserById(rt.db, tenant.id, credential.userId);
  if (!user?.active) throw new PasskeyError('unknown_credential');
  // A passkey alone must prove the user (PIN or biometrics); as a second factor the tenant decides.
  const verified = await verifyAssertion(rp, response, challenge, credential, mode === 'sign-in' || rp.userVerification === 'required');
  if (!(await advanceCounter(rt.db, credential, verified.newCounter, { backedUp: verified.backedUp }))) throw new PasskeyError('counter_regression');
  return { credential, user, kind: amrOfPasskey(credential), userVerified: verified.userVerified };
}

export async function passkeyLoginEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const posted = await readInteractionForm(c, rt, tenant);
  const { flow: f, form, handle } = posted;
  const mode = modeOf(form.get('mode'));
  const pending = mode === 'second-factor' ? await pendingSecondFactor(rt, tenant, handle) : undefined;
  if (mode === 'second-factor' && !pending) throw expired();
  const rp = await relyingPartyOf(rt.db, tenant, rt.baseUrl);
  let checked: Checked;
  try {
    checked = await checkAssertion(rt, tenant, rp, mode, handle, form.get('credential') ?? '', pending?.userId);
  } catch (err) {
    if (!(err instanceof PasskeyError)) throw err;
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'login.passkey', outcome: 'failure', actor: pending?.userId ?? null, clientId: f.client.clientId, detail: { reason: err.code, mode } }, f.meta);
    const message = err.code === 'counter_regression' ? 'This passkey cannot be trusted: it may have been copied. Use another way to sign in and remove it.' : 'The passkey could not be verified. Try again.';
    if (mode === 'sign-in') {
      return sendPage(c, 401, LoginPage({ action: `${f.issuer}/login`, interaction: handle, csrf: posted.row.csrf!, clientName: f.client.name, tenantName: tenant.displayName, error: message }));
    }
    const methods = await secondFactorsOf(rt.db, tenant.id, pending!.userId);
    return sendPage(c, 401, TotpChallengePage({ action: `${f.issuer}/login/second-factor`, interaction: handle, csrf: posted.row.csrf!, tenantName: tenant.displayName, error: message, methods }));
  }
  const { user, credential, kind } = checked;
  const outcome = await rt.transaction(async (tx) => {
    let amr: string[];
    if (mode === 'second-factor') {
      const [claimed] = await tx.delete(mfaChallenges).where(eq(mfaChallenges.interactionHash, pending!.interactionHash)).returning();
      if (!claimed) return undefined;
      amr = [...claimed.amr, kind, 'mfa'];
    } else {
      // Possession of the key and the verified user (PIN or biometrics): two factors (RFC 8176 "mfa").
      amr = [kind, 'mfa'];
    }
    return beginSession(c, tx, f, user, { acr: ACR.mfa, amr, method: 'passkey', authenticator: `passkey “${credential.name}”`, detail: { passkey: credential.id, mode } });
  });
  if (!outcome) throw expired();
  setSessionCookie(c, rt, tenant, outcome.secret);
  return afterAuthentication(c, f, posted.req, { session: outcome.session, user }, { row: posted.row, handle });
}
