// The authorization flow after the request is validated: sign in when needed (prompt, max_age,
// step-up to a second factor by tenant policy or acr_values),
// consent for third-party clients, then the code at the redirect URI with state and iss.
import type { Context } from 'hono';
import { hasConsent } from '../core/consents.js';
import { insertCode } from '../core/grants.js';
import { attachSession, consumeInteraction, createInteraction } from '../core/interactions.js';
import { findLiveSession } from '../core/sessions.js';
import type { Interaction, Session, User } from '../core/schema.js';
import { describeAuthorizationDetail } from './authorization-detail-words.js';
import type { AuthzRequest } from './authorization-request.js';
import { browserId, readCookie, SESSION_COOKIE } from './cookies.js';
import type { FlowContext } from './flow-context.js';
import { ConsentPage } from './pages/consent-page.js';
import { DeviceConfirmPage } from './pages/device-pages.js';
import { ErrorPage } from './pages/error-page.js';
import { LoginPage } from './pages/login-page.js';
import { stepUpNeeded } from './step-up.js';
import { authorizationResponse, AuthorizePageError, redirectError, sendPage } from './responses.js';

interface LiveSession {
  session: Session;
  user: User;
}

/** Starts the flow for a validated request arriving at the authorization endpoint. */
export async function startFlow(c: Context, f: FlowContext, req: AuthzRequest): Promise<Response> {
  const live = await findLiveSession(f.rt.db, f.tenant.id, readCookie(c, SESSION_COOKIE));
  // OIDC Core §3.1.2.1 max_age: re-authenticate when the last authentication is older.
  const tooOld = live && req.maxAge !== undefined && (Date.now() - live.session.authTime.getTime()) / 1000 > req.maxAge;
  const needLogin = !live || req.prompt.includes('login') || tooOld;
  if (needLogin) {
    if (req.prompt.includes('none')) return redirectError(c, f, req, 'login_required', 'The user is not signed in.');
    return showLogin(c, f, req);
  }
  return afterAuthentication(c, f, req, live!, undefined);
}

async function showLogin(c: Context, f: FlowContext, req: AuthzRequest): Promise<Response> {
  const browser = browserId(c, f.rt, f.tenant);
  const { handle, csrf } = await createInteraction(f.rt.db, { tenantId: f.tenant.id, clientId: f.client.id, kind: 'interaction', params: { ...req }, browserId: browser });
  return sendPage(c, 200, LoginPage({ action: `${f.issuer}/login`, interaction: handle, csrf, clientName: f.client.name, tenantName: f.tenant.displayName, username: req.loginHint }));
}

/** The user is authenticated: ask for consent when needed, else issue the code. */
export async function afterAuthentication(
  c: Context,
  f: FlowContext,
  req: AuthzRequest,
  live: LiveSession,
  interaction: { row: Interaction; handle: string } | undefined,
): Promise<Response> {
  const step = await stepUpNeeded(f, req, live);
  if (step === 'login' && !interaction) {
    if (req.prompt.includes('none')) return redirectError(c, f, req, 'login_required', 'A second factor is required.');
    return showLogin(c, f, req);
  }
  if (step !== 'none') {
    if (req.prompt.includes('none')) return redirectError(c, f, req, 'interaction_required', 'A second factor must be set up.');
    return sendPage(c, 403, ErrorPage({ title: 'Set up a second factor', message: `Your organisation requires an authenticator app. Set one up at ${f.issuer}/account/totp, then sign in again.` }));
  }
  if (req.device) return confirmDevice(c, f, req, req.device, live, interaction);
  const needsConsent =
    !f.client.firstParty &&
    (req.prompt.includes('consent') || !!req.authorizationDetails?.length || !(await hasConsent(f.rt.db, live.user.id, f.client.id, req.scope)));
  if (needsConsent) {
    if (req.prompt.includes('none')) return redirectError(c, f, req, 'consent_required', 'The user has not consented.');
    let handle: string;
    let csrf: string;
    let idHash: string;
    if (interaction) {
      ({ handle } = interaction);
      csrf = interaction.row.csrf!;
      idHash = interaction.row.idHash;
    } else {
      const created = await createInteraction(f.rt.db, { tenantId: f.tenant.id, clientId: f.client.id, kind: 'interaction', params: { ...req }, browserId: browserId(c, f.rt, f.tenant) });
      ({ handle, csrf } = created);
      idHash = created.interaction.idHash;
    }
    await attachSession(f.rt.db, idHash, live.session.id);
    return sendPage(c, 200, ConsentPage({ action: `${f.issuer}/consent`, interaction: handle, csrf, clientName: f.client.name, username: live.user.username, scopes: req.scope, details: (req.authorizationDetails ?? []).map(describeAuthorizationDetail) }));
  }
  if (interaction && !(await consumeInteraction(f.rt.db, interaction.row.idHash))) {
    throw new AuthorizePageError(400, 'interaction_used', 'This sign-in request was already completed.');
  }
  return issueCode(c, f, req, live);
}

/**
 * A device request always asks the signed-in user to confirm, first-party client or not: the user
 * must check the code on the device (RFC 8628 §5.4).
 */
async function confirmDevice(
  c: Context,
  f: FlowContext,
  req: AuthzRequest,
  device: { userCode: string },
  live: LiveSession,
  interaction: { row: Interaction; handle: string } | undefined,
): Promise<Response> {
  let pending = interaction;
  if (!pending) {
    const created = await createInteraction(f.rt.db, { tenantId: f.tenant.id, clientId: f.client.id, kind: 'interaction', params: { ...req }, browserId: browserId(c, f.rt, f.tenant) });
    pending = { row: created.interaction, handle: created.handle };
  }
  await attachSession(f.rt.db, pending.row.idHash, live.session.id);
  return sendPage(
    c,
    200,
    DeviceConfirmPage({ action: `${f.issuer}/device/confirm`, interaction: pending.handle, csrf: pending.row.csrf!, clientName: f.client.name, username: live.user.username, userCode: device.userCode, scopes: req.scope }),
  );
}

/** Mints the code and returns it in the client's response mode (RFC 6749 §4.1.2, RFC 9207, JARM). */
export async function issueCode(c: Context, f: FlowContext, req: AuthzRequest, live: LiveSession): Promise<Response> {
  const code = await insertCode(f.rt.db, {
    tenantId: f.tenant.id,
    clientId: f.client.id,
    userId: live.user.id,
    sessionId: live.session.id,
    redirectUri: req.redirectUri,
    scope: req.scope.join(' '),
    nonce: req.nonce ?? null,
    codeChallenge: req.codeChallenge ?? null,
    resource: req.resource,
    authorizationDetails: req.authorizationDetails ?? null,
    authTime: live.session.authTime,
    acr: live.session.acr,
    amr: live.session.amr,
  });
  return authorizationResponse(c, f, req, { code });
}
