// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the session, then go to a
// registered post_logout_redirect_uri with state, or show the signed-out page. The page frames the
// front-channel logout URIs of the clients that got tokens in the session (Front-Channel Logout
// 1.0 §3) and a SAML LogoutRequest for each SP it signed in to; back-channel logout follows the
// session.revoked event (auth-backchannel-logout).
import { eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { findClient } from '../core/clients.js';
import { safeEqual, sha256Hex } from '../core/crypto.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Client } from '../core/schema.js';
import { samlLogoutFrames, type LogoutFrame } from '../core/saml/logout-frames.js';
import type { SamlKeyStore } from '../core/saml/keys.js';
import { samlParticipants } from '../core/schema.js';
import { frontChannelLogoutUrl, logoutClientsOf } from '../core/session-clients.js';
import { findLiveSession, revokeSession } from '../core/sessions.js';
import { sendLogoutPage } from '../saml/pages.js';
import { verifyOwnJwt } from '../core/tokens.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { clearCookie, readCookie, SESSION_COOKIE } from './cookies.js';
import { browserParams } from './html-form.js';
import { LoggedOutPage, LogoutConfirmPage } from './pages/logout-page.js';
import { AuthorizePageError, redirectWith, sendPage } from './responses.js';

const invalid = () => new AuthorizePageError(400, 'invalid_logout_request', 'This sign-out request is not valid.');
const logoutCsrf = (sessionSecret: string) => sha256Hex(`logout:${sessionSecret}`);

export async function logoutEndpoint(c: Context, rt: AuthRuntime, samlKeys: SamlKeyStore): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const p = await browserParams(c);
  const hint = p.get('id_token_hint');
  const postLogout = p.get('post_logout_redirect_uri') ?? undefined;
  const state = p.get('state')?.slice(0, 2048);
  const clientIdParam = p.get('client_id');
  let client: Client | undefined;
  let hintSub: string | undefined;
  if (hint) {
    // The hint must be an ID token we issued for this tenant; an expired one is still a hint.
    let claims: Record<string, unknown>;
    try {
      claims = await verifyOwnJwt(rt.keys, tenant.id, issuer, hint, { algs: ['RS256', 'EdDSA'], ignoreExpiration: true });
    } catch {
      throw invalid();
    }
    // An access token of ours verifies with the same keys but is no ID token.
    if (typeof claims.client_id === 'string' || typeof claims.azp !== 'string') throw invalid();
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    if (typeof aud !== 'string' || (clientIdParam !== null && clientIdParam !== aud)) throw invalid();
    client = await findClient(rt.db, tenant.id, aud);
    hintSub = typeof claims.sub === 'string' ? claims.sub : undefined;
  } else if (clientIdParam) {
    client = await findClient(rt.db, tenant.id, clientIdParam.slice(0, 128));
  }
  // The redirect must be registered for the client the request identifies.
  if (postLogout !== undefined && !client?.postLogoutRedirectUris.includes(postLogout)) throw invalid();

  const secret = readCookie(c, SESSION_COOKIE);
  const live = await findLiveSession(rt.db, tenant.id, secret);
  let frames: LogoutFrame[] = [];
  if (live) {
    const confirmedByHint = hintSub !== undefined && hintSub === live.user.id;
    const confirmedByForm = c.req.method === 'POST' && p.get('confirm') === 'yes' && safeEqual(p.get('csrf') ?? '', logoutCsrf(secret!));
    if (!confirmedByHint && !confirmedByForm) {
      const hidden: Record<string, string> = {};
      if (postLogout) hidden.post_logout_redirect_uri = postLogout;
      if (state) hidden.state = state;
      if (client) hidden.client_id = client.clientId;
      return sendPage(c, 200, LogoutConfirmPage({ action: `${issuer}/logout`, csrf: logoutCsrf(secret!), hidden }));
    }
    const meta = requestMeta(c, rt);
    const sid = live.session.id;
    frames = [
      ...(await logoutClientsOf(rt.db, tenant.id, sid, 'front')).map((fc) => frontChannelLogoutUrl(fc, issuer, sid)),
      ...(await samlLogoutFrames(rt.db, samlKeys, tenant, issuer, sid)),
    ];
    await rt.transaction(async (tx) => {
      await tx.delete(samlParticipants).where(eq(samlParticipants.sessionId, sid));
      if (!(await revokeSession(tx, tenant.id, live.session.id))) return;
      await recordAudit(tx, { tenantId: tenant.id, action: 'session.revoked', outcome: 'success', actor: live.user.id, clientId: client?.clientId ?? null, detail: { session: live.session.id, reason: 'logout' } }, meta);
      await rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId: live.session.id, userId: live.user.id, reason: 'logout' } });
    });
  }
  if (secret) clearCookie(c, rt, tenant, SESSION_COOKIE);
  if (frames.length) {
    // The frames load first; then the browser goes on to the client, state attached.
    const next = postLogout ? new URL(postLogout) : undefined;
    if (next && state) next.searchParams.append('state', state);
    return sendLogoutPage(c, frames, next ? { url: next.toString() } : undefined);
  }
  if (postLogout) return redirectWith(c, postLogout, { state });
  return sendPage(c, 200, LoggedOutPage());
}
