// The device verification page (RFC 8628 §3.3): {issuer}/device takes the user code (typed, or
// from verification_uri_complete), signs the user in when needed, and asks them to confirm;
// {issuer}/device/confirm records the decision the polling device then receives.
import type { Context } from 'hono';
import { recordAudit } from '../core/audit.js';
import { findClientById } from '../core/clients.js';
import { safeEqual } from '../core/crypto.js';
import { USER_CODE_THROTTLE, decideDeviceCode, findPendingByUserCode, formatUserCode, normaliseUserCode, userCodeFailures } from '../core/device-codes.js';
import { consumeInteraction, createInteraction, interactionCsrf } from '../core/interactions.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findLiveSession } from '../core/sessions.js';
import { backoffSeconds } from '../core/throttle.js';
import type { Tenant } from '../core/schema.js';
import { requestMeta, tenantOf } from '../web/request.js';
import type { AuthzRequest } from './authorization-request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { BROWSER_COOKIE, browserId, readCookie, SESSION_COOKIE } from './cookies.js';
import type { FlowContext } from './flow-context.js';
import { afterAuthentication } from './flow.js';
import { browserParams } from './html-form.js';
import { readInteractionForm } from './interaction-form.js';
import { DeviceCodePage, DeviceDonePage } from './pages/device-pages.js';
import { LoginPage } from './pages/login-page.js';
import { AuthorizePageError, sendPage } from './responses.js';

/** The code form is not tied to an interaction yet: its CSRF token is bound to the browser alone. */
const CODE_FORM = 'device';

const expired = () => new AuthorizePageError(400, 'interaction_expired', 'This form has expired or was not opened in this browser.');

function codePage(c: Context, rt: AuthRuntime, tenant: Tenant, status: number, userCode: string | undefined, error?: string): Response {
  const csrf = interactionCsrf(browserId(c, rt, tenant), CODE_FORM);
  return sendPage(c, status, DeviceCodePage({ action: `${rt.issuer(tenant.slug)}/device`, csrf, tenantName: tenant.displayName, userCode, error }));
}

/** GET shows the form (filled from `user_code`, §3.3.1); POST checks the code and moves on. */
export async function deviceEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const p = await browserParams(c);
  const typed = (p.get('user_code') ?? '').slice(0, 64);
  if (c.req.method === 'GET') {
    const known = normaliseUserCode(typed);
    return codePage(c, rt, tenant, 200, known ? formatUserCode(known) : undefined);
  }
  const browser = readCookie(c, BROWSER_COOKIE);
  if (!browser || !safeEqual(p.get('csrf') ?? '', interactionCsrf(browser, CODE_FORM))) throw expired();
  const meta = requestMeta(c, rt);

  // RFC 8628 §5.1: "the authorization server SHOULD rate-limit user code attempts": failures of
  // one address are counted from the audit trail, shared by every instance.
  const failures = await userCodeFailures(rt.db, tenant.id, meta.ip);
  const t = USER_CODE_THROTTLE;
  const delay = backoffSeconds(failures.n, t.free, t.baseSeconds, t.maxSeconds);
  const waitUntil = failures.last && delay ? failures.last.getTime() + delay * 1000 : 0;
  if (waitUntil > failures.now.getTime()) {
    const retryAfter = Math.max(1, Math.ceil((waitUntil - failures.now.getTime()) / 1000));
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'device.user_code.throttled', outcome: 'failure', detail: { retryAfter } }, meta);
    c.header('retry-after', String(retryAfter));
    return codePage(c, rt, tenant, 429, typed, `Too many wrong codes. Wait ${retryAfter} seconds, then try again.`);
  }
  const code = normaliseUserCode(typed);
  const row = code ? await findPendingByUserCode(rt.db, tenant.id, code) : undefined;
  const client = row ? await findClientById(rt.db, tenant.id, row.clientId) : undefined;
  if (!row || !client || !code) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'device.user_code', outcome: 'failure', detail: { reason: code ? 'unknown' : 'malformed' } }, meta);
    return codePage(c, rt, tenant, 400, typed, 'That code is not valid or has expired. Check the code on your device.');
  }

  const req: AuthzRequest = {
    clientId: client.clientId,
    redirectUri: '',
    scope: row.scope.split(' ').filter(Boolean),
    prompt: [],
    acrValues: [],
    resource: row.resource,
    authorizationDetails: (row.authorizationDetails ?? undefined) as AuthzRequest['authorizationDetails'],
    device: { codeHash: row.deviceCodeHash, userCode: formatUserCode(code) },
  };
  const f: FlowContext = { rt, tenant, issuer: rt.issuer(tenant.slug), client, meta };
  const created = await createInteraction(rt.db, { tenantId: tenant.id, clientId: client.id, kind: 'interaction', params: { ...req }, browserId: browser });
  const live = await findLiveSession(rt.db, tenant.id, readCookie(c, SESSION_COOKIE));
  if (!live) {
    return sendPage(c, 200, LoginPage({ action: `${f.issuer}/login`, interaction: created.handle, csrf: created.csrf, clientName: client.name, tenantName: tenant.displayName }));
  }
  return afterAuthentication(c, f, req, live, { row: created.interaction, handle: created.handle });
}

/** POST {issuer}/device/confirm: Allow or Deny, by the session that signed in for this interaction. */
export async function deviceConfirmEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const posted = await readInteractionForm(c, rt, tenant);
  const device = posted.req.device;
  if (!device) throw expired();
  const live = await findLiveSession(rt.db, tenant.id, readCookie(c, SESSION_COOKIE));
  if (!live || live.session.id !== posted.row.sessionId) throw expired();
  const decision = posted.form.get('decision');
  if (decision !== 'allow' && decision !== 'deny') throw new AuthorizePageError(400, 'invalid_request', 'Choose Allow or Deny.');
  if (!(await consumeInteraction(rt.db, posted.row.idHash))) throw new AuthorizePageError(400, 'interaction_used', 'This request was already completed.');
  const approved = decision === 'allow';
  const decided = await rt.transaction(async (tx) => {
    const ok = await decideDeviceCode(
      tx,
      tenant.id,
      device.codeHash,
      approved ? { approved, userId: live.user.id, sessionId: live.session.id, authTime: live.session.authTime, acr: live.session.acr, amr: live.session.amr } : { approved },
    );
    if (ok) await recordAudit(tx, { tenantId: tenant.id, action: approved ? 'device.approved' : 'device.denied', outcome: 'success', actor: live.user.id, clientId: posted.flow.client.clientId }, posted.flow.meta);
    return ok;
  });
  if (!decided) throw new AuthorizePageError(400, 'expired_token', 'This code has expired or was already used. Start again on your device.');
  return sendPage(c, 200, DeviceDonePage({ approved }));
}
