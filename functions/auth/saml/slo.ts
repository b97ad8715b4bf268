// Single logout (SAML Profiles §4.4) over HTTP-Redirect and HTTP-POST. A signed LogoutRequest from
// an SP ends the browser session it names, the same session OIDC sign-ins use, and the other SPs
// of that session are sent LogoutRequests front-channel; the initiator gets its LogoutResponse.
// Without a message, {issuer}/saml/slo ends the browser's own session the same way.
import type { Context } from 'hono';
import { eq } from 'drizzle-orm';
import { recordAudit, type RequestMeta } from '../core/audit.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { redirectUrl } from '../core/saml/bindings.js';
import { STATUS } from '../core/saml/constants.js';
import { samlEndpoints } from '../core/saml/idp-metadata.js';
import { buildLogoutResponse, readLogoutMessage } from '../core/saml/logout.js';
import { samlLogoutFrames, type LogoutFrame } from '../core/saml/logout-frames.js';
import { findParticipation } from '../core/saml/participants.js';
import { SamlError } from '../core/saml/saml-error.js';
import { signElement } from '../core/saml/signing.js';
import { findSpByEntityId } from '../core/saml/service-providers.js';
import { samlParticipants, type Tenant } from '../core/schema.js';
import { findLiveSession, revokeSession } from '../core/sessions.js';
import { frontChannelLogoutUrl, logoutClientsOf } from '../core/session-clients.js';
import { clearCookie, readCookie, SESSION_COOKIE } from '../authorize/cookies.js';
import type { SamlContext } from './context.js';
import { readIncoming } from './incoming.js';
import { sendLogoutPage, sendPostForm } from './pages.js';

export async function sloEndpoint(c: Context, s: SamlContext, tenant: Tenant, meta: RequestMeta): Promise<Response> {
  const idp = samlEndpoints(s.rt.issuer(tenant.slug));
  const incoming = await readIncoming(c, ['SAMLRequest', 'SAMLResponse']);
  const key = await s.keys.active(tenant.id);

  if (!incoming) {
    // The user's own sign-out at the IdP: every SP of the session is told.
    const live = await findLiveSession(s.rt.db, tenant.id, readCookie(c, SESSION_COOKIE));
    const frames = live ? await endSession(s, tenant, live.session.id, undefined, meta) : [];
    clearCookie(c, s.rt, tenant, SESSION_COOKIE);
    return sendLogoutPage(c, frames, undefined);
  }

  const claimed = readLogoutMessage(incoming.doc);
  const sp = await findSpByEntityId(s.rt.db, tenant.id, claimed.message.issuer);
  if (!sp) throw new SamlError('unknown_sp', 'The Issuer is not a registered service provider.', 403);
  const { doc, signed } = incoming.verify(sp.certificates);
  // SAML Profiles §4.4.4.1: the requester "MUST authenticate itself … either by signing the <LogoutRequest> or using a binding-specific mechanism".
  if (!signed) throw new SamlError('signature_missing', 'Logout messages must be signed.', 403);
  const msg = readLogoutMessage(doc);
  if (msg.message.issuer !== sp.entityId) throw new SamlError('signature_wrapping', 'The signed message names another Issuer.', 403);
  if (msg.message.destination !== idp.slo) throw new SamlError('destination_mismatch', 'The Destination does not name this endpoint.');

  if (msg.kind === 'response') {
    await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'saml.logout_response', outcome: msg.message.success ? 'success' : 'failure', clientId: sp.entityId, detail: { inResponseTo: msg.message.inResponseTo } }, meta);
    return c.body(null, 204);
  }

  const req = msg.message;
  if (!sp.sloUrl) throw new SamlError('no_slo_endpoint', 'This SP has no single logout endpoint registered.');
  const participations = await findParticipation(s.rt.db, tenant.id, sp.id, req.nameId, undefined);
  const matching = req.sessionIndexes.length ? participations.filter((p) => req.sessionIndexes.includes(p.sessionIndex)) : participations;
  let frames: LogoutFrame[] = [];
  let status: string = STATUS.success;
  for (const p of matching) frames = frames.concat(await endSession(s, tenant, p.sessionId, sp.id, meta));
  if (!matching.length) status = STATUS.requester;
  clearCookie(c, s.rt, tenant, SESSION_COOKIE);
  await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'saml.logout', outcome: matching.length ? 'success' : 'failure', clientId: sp.entityId, detail: { sessions: matching.length, binding: incoming.binding } }, meta);
  const response = buildLogoutResponse({ idpEntityId: idp.entityId, destination: sp.sloUrl, inResponseTo: req.id, status });
  if (sp.sloBinding === 'post') {
    const xml = signElement(response.xml, { id: response.id, localName: 'LogoutResponse', privatePem: key.privatePem, certificate: key.certificate });
    if (!frames.length) return sendPostForm(c, sp.sloUrl, 'SAMLResponse', xml, incoming.relayState);
    return sendLogoutPage(c, frames, { form: { action: sp.sloUrl, param: 'SAMLResponse', xml, relayState: incoming.relayState } });
  }
  const url = redirectUrl(sp.sloUrl, 'SAMLResponse', response.xml, incoming.relayState, key.privateKey);
  if (!frames.length) return c.body(null, 303, { location: url, 'cache-control': 'no-store' });
  return sendLogoutPage(c, frames, { url });
}

/**
 * Revokes the session (audited, announced: back-channel logout follows the event) and returns the
 * frames of the signed-out page: signed LogoutRequests to its other SPs (HTTP-Redirect URLs or
 * HTTP-POST forms) and the front-channel logout URIs of the OIDC clients that got tokens in it.
 */
async function endSession(s: SamlContext, tenant: Tenant, sessionId: string, initiatorSpId: string | undefined, meta: RequestMeta): Promise<LogoutFrame[]> {
  const issuer = s.rt.issuer(tenant.slug);
  const saml = await samlLogoutFrames(s.rt.db, s.keys, tenant, issuer, sessionId, initiatorSpId);
  const oidc = (await logoutClientsOf(s.rt.db, tenant.id, sessionId, 'front')).map((client) => frontChannelLogoutUrl(client, issuer, sessionId));
  await s.rt.transaction(async (tx) => {
    const revoked = await revokeSession(tx, tenant.id, sessionId);
    await tx.delete(samlParticipants).where(eq(samlParticipants.sessionId, sessionId));
    if (!revoked) return;
    await recordAudit(tx, { tenantId: tenant.id, action: 'session.revoked', outcome: 'success', actor: revoked.userId, detail: { session: sessionId, reason: 'saml_logout' } }, meta);
    await s.rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: tenant.slug, sessionId, userId: revoked.userId, reason: 'saml_logout' } });
  });
  return [...saml, ...oidc];
}
