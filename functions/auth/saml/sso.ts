// Single sign-on (SAML Profiles §4.1): an AuthnRequest over HTTP-Redirect or HTTP-POST, or an
// IdP-initiated start, answered with a signed Response posted to the SP's ACS once the browser
// has a session (signing in first when it has none, or when ForceAuthn asks for it).
import type { Context } from 'hono';
import { createHmac } from 'node:crypto';
import { ACR } from '../core/acr.js';
import { recordAudit, type RequestMeta } from '../core/audit.js';
import { mfaRequiredFor } from '../core/mfa-policy.js';
import { checkDestination, readAuthnRequest } from '../core/saml/authn-request.js';
import { NAMEID_FORMAT, STATUS } from '../core/saml/constants.js';
import { samlEndpoints } from '../core/saml/idp-metadata.js';
import { recordParticipant } from '../core/saml/participants.js';
import { consumePending, recordRequest, type PendingSso } from '../core/saml/requests.js';
import { buildErrorResponse, buildSuccessResponse } from '../core/saml/response.js';
import { SamlError } from '../core/saml/saml-error.js';
import { findSpByEntityId } from '../core/saml/service-providers.js';
import { attributesFor, authnContextFor, nameIdFor } from '../core/saml/subject.js';
import type { SamlServiceProvider, Session, Tenant, User } from '../core/schema.js';
import { findLiveSession } from '../core/sessions.js';
import { browserId, readCookie, SESSION_COOKIE } from '../authorize/cookies.js';
import { LoginPage } from '../authorize/pages/login-page.js';
import { sendPage } from '../authorize/responses.js';
import type { SamlContext } from './context.js';
import { readIncoming } from './incoming.js';
import { sendPostForm } from './pages.js';

/** The ACS the request names (exact URL or index), else the SP's default, else its first. */
function pickAcs(sp: SamlServiceProvider, url: string | undefined, index: number | undefined): string {
  if (url !== undefined) {
    // SAML Profiles §4.1.4.1: the IdP "MUST" ensure the ACS URL belongs to the requester: exact match.
    const found = sp.acs.find((a) => a.url === url);
    if (!found) throw new SamlError('unknown_acs', 'AssertionConsumerServiceURL is not registered for this SP.');
    return found.url;
  }
  if (index !== undefined) {
    const found = sp.acs.find((a) => a.index === index);
    if (!found) throw new SamlError('unknown_acs', 'AssertionConsumerServiceIndex is not registered for this SP.');
    return found.url;
  }
  return (sp.acs.find((a) => a.isDefault) ?? sp.acs[0]!).url;
}

/** GET or POST {issuer}/saml/sso: an SP's AuthnRequest. */
export async function ssoEndpoint(c: Context, s: SamlContext, tenant: Tenant, meta: RequestMeta): Promise<Response> {
  const endpoints = samlEndpoints(s.rt.issuer(tenant.slug));
  const incoming = await readIncoming(c, ['SAMLRequest']);
  if (!incoming) throw new SamlError('invalid_binding', 'SAMLRequest is missing.');
  const claimed = readAuthnRequest(incoming.doc);
  const sp = await findSpByEntityId(s.rt.db, tenant.id, claimed.issuer);
  if (!sp) throw new SamlError('unknown_sp', 'The Issuer is not a registered service provider.', 403);
  const { doc, signed } = incoming.verify(sp.certificates);
  // Read again from what the signature covered: nothing outside it is trusted.
  const req = signed ? readAuthnRequest(doc) : claimed;
  if (req.issuer !== sp.entityId) throw new SamlError('signature_wrapping', 'The signed request names another Issuer.', 403);
  if (sp.wantAuthnRequestsSigned && !signed) throw new SamlError('signature_missing', 'This SP must sign its AuthnRequests.', 403);
  checkDestination(req.destination, endpoints.sso, signed);
  const sso: PendingSso = {
    spId: sp.id,
    requestId: req.id,
    acsUrl: pickAcs(sp, req.acsUrl, req.acsIndex),
    relayState: incoming.relayState,
    nameIdFormat: req.nameIdFormat && req.nameIdFormat !== NAMEID_FORMAT.unspecified ? req.nameIdFormat : sp.nameIdFormat,
    forceAuthn: req.forceAuthn,
  };
  const browser = browserId(c, s.rt, tenant);
  const recorded = await recordRequest(s.rt.db, { tenantId: tenant.id, browserId: browser, sso });
  if (!recorded) throw new SamlError('request_replayed', 'This AuthnRequest ID was already used.', 403);
  return continueSso(c, s, tenant, sp, sso, recorded, req.isPassive, meta);
}

/** GET {issuer}/saml/idp-initiated?sp={entityId}&RelayState=…: sign-in started at the IdP (SAML Profiles §4.1.5). */
export async function idpInitiatedEndpoint(c: Context, s: SamlContext, tenant: Tenant, meta: RequestMeta): Promise<Response> {
  const url = new URL(c.req.url);
  const sp = await findSpByEntityId(s.rt.db, tenant.id, url.searchParams.get('sp') ?? '');
  if (!sp) throw new SamlError('unknown_sp', 'No such service provider.', 404);
  if (!sp.allowIdpInitiated) throw new SamlError('idp_initiated_refused', 'This SP accepts only sign-ins it starts itself.', 403);
  const relayState = url.searchParams.get('RelayState') ?? undefined;
  if (relayState && Buffer.byteLength(relayState) > 1024) throw new SamlError('invalid_relay_state', 'RelayState must not exceed 1024 bytes.');
  const sso: PendingSso = { spId: sp.id, requestId: undefined, acsUrl: pickAcs(sp, undefined, undefined), relayState: relayState || undefined, nameIdFormat: sp.nameIdFormat, forceAuthn: false };
  const recorded = await recordRequest(s.rt.db, { tenantId: tenant.id, browserId: browserId(c, s.rt, tenant), sso });
  if (!recorded) throw new SamlError('request_replayed', 'Try again.', 409);
  return continueSso(c, s, tenant, sp, sso, recorded, false, meta);
}

async function continueSso(
  c: Context,
  s: SamlContext,
  tenant: Tenant,
  sp: SamlServiceProvider,
  sso: PendingSso,
  pending: { id: string; handle: string; csrf: string },
  isPassive: boolean,
  meta: RequestMeta,
): Promise<Response> {
  let live = await findLiveSession(s.rt.db, tenant.id, readCookie(c, SESSION_COOKIE));
  // A session without a second factor does not satisfy a tenant that requires one.
  if (live && live.session.acr !== ACR.mfa && (await mfaRequiredFor(s.rt.db, tenant.id, live.user.id))) live = undefined;
  if (live && !sso.forceAuthn) return answerSso(c, s, tenant, sp, sso, pending.id, live, meta);
  const idp = samlEndpoints(s.rt.issuer(tenant.slug));
  if (isPassive) {
    // SAML Core §3.4.1: IsPassive "MUST NOT visibly take control of the user interface".
    const key = await s.keys.active(tenant.id);
    const xml = buildErrorResponse({ idpEntityId: idp.entityId, acsUrl: sso.acsUrl, inResponseTo: sso.requestId, status: STATUS.responder, subStatus: STATUS.noPassive }, key);
    await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'saml.sso', outcome: 'failure', clientId: sp.entityId, detail: { reason: 'no_passive' } }, meta);
    return sendPostForm(c, sso.acsUrl, 'SAMLResponse', xml, sso.relayState);
  }
  return sendPage(c, 200, LoginPage({ action: idp.login, interaction: pending.handle, csrf: pending.csrf, clientName: sp.name ?? sp.entityId, tenantName: tenant.displayName }));
}

/** The session index of a session: stable for it, unlinkable to its id. */
const sessionIndexOf = (s: SamlContext, session: Session) => `_${createHmac('sha256', s.pairwiseKey).update(`session-index\n${session.id}`).digest('hex').slice(0, 40)}`;

/** Answers a pending request for an authenticated user: the Response, posted to the ACS. */
export async function answerSso(
  c: Context,
  s: SamlContext,
  tenant: Tenant,
  sp: SamlServiceProvider,
  sso: PendingSso,
  requestRowId: string,
  live: { session: Session; user: User },
  meta: RequestMeta,
): Promise<Response> {
  const idp = samlEndpoints(s.rt.issuer(tenant.slug));
  const key = await s.keys.active(tenant.id);
  const nameId = nameIdFor(sso.nameIdFormat, live.user, sp, s.pairwiseKey);
  const attributes = await attributesFor(s.rt.db, live.user, sp);
  const sessionIndex = sessionIndexOf(s, live.session);
  await s.rt.transaction(async (tx) => {
    if (!(await consumePending(tx, tenant.id, requestRowId))) throw new SamlError('request_used', 'This sign-in request was already answered.', 409);
    await recordParticipant(tx, { tenantId: tenant.id, sessionId: live.session.id, spId: sp.id, nameId, nameIdFormat: sso.nameIdFormat, sessionIndex });
    await recordAudit(tx, { tenantId: tenant.id, action: 'saml.sso', outcome: 'success', actor: live.user.id, clientId: sp.entityId, detail: { session: live.session.id, nameIdFormat: sso.nameIdFormat, idpInitiated: !sso.requestId } }, meta);
  });
  const xml = await buildSuccessResponse(
    {
      idpEntityId: idp.entityId,
      spEntityId: sp.entityId,
      acsUrl: sso.acsUrl,
      inResponseTo: sso.requestId,
      nameId,
      nameIdFormat: sso.nameIdFormat,
      sessionIndex,
      authnInstant: live.session.authTime,
      sessionNotOnOrAfter: live.session.expiresAt,
      authnContextClass: authnContextFor(live.session.acr),
      attributes,
    },
    { privatePem: key.privatePem, certificate: key.certificate, signResponse: sp.signResponse, signAssertion: sp.signAssertion },
    new Date(),
    sp.encryptAssertion ? { certificate: sp.encryptionCertificates[0]!, keyTransport: sp.keyTransport } : undefined,
  );
  return sendPostForm(c, sso.acsUrl, 'SAMLResponse', xml, sso.relayState);
}
