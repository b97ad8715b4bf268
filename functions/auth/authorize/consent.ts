// POST {issuer}/consent: the user allows or denies a third-party client (bound to the session
// that signed in during this interaction).
import type { Context } from 'hono';
import { grantConsent } from '../core/consents.js';
import { consumeInteraction } from '../core/interactions.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findLiveSession } from '../core/sessions.js';
import { tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { readCookie, SESSION_COOKIE } from './cookies.js';
import { issueCode } from './flow.js';
import { readInteractionForm } from './interaction-form.js';
import { AuthorizePageError, redirectError } from './responses.js';

export async function consentEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const posted = await readInteractionForm(c, rt, tenant);
  const { flow: f, req } = posted;
  // A device request is confirmed at {issuer}/device/confirm; it has no redirect URI to go back to.
  if (req.device) throw new AuthorizePageError(400, 'interaction_expired', 'This form has expired or was not opened in this browser.');
  const live = await findLiveSession(rt.db, tenant.id, readCookie(c, SESSION_COOKIE));
  if (!live || live.session.id !== posted.row.sessionId) throw new AuthorizePageError(400, 'interaction_expired', 'This form has expired or was not opened in this browser.');
  const decision = posted.form.get('decision');
  if (decision !== 'allow' && decision !== 'deny') throw new AuthorizePageError(400, 'invalid_request', 'Choose Allow or Deny.');
  if (!(await consumeInteraction(rt.db, posted.row.idHash))) throw new AuthorizePageError(400, 'interaction_used', 'This sign-in request was already completed.');
  if (decision === 'deny') return redirectError(c, f, req, 'access_denied', 'The user denied the request.');
  await grantConsent(rt.db, tenant.id, live.user.id, f.client.id, req.scope);
  return issueCode(c, f, req, live);
}
