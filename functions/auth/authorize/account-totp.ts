// GET/POST {issuer}/account/totp: a signed-in user turns on an authenticator app. GET shows a new
// key as an otpauth:// URI and a QR code rendered here as SVG; POST confirms it with a first code
// and shows ten recovery codes, once.
import type { Context } from 'hono';
import QRCode from 'qrcode';
import { recordAudit } from '../core/audit.js';
import { safeEqual } from '../core/crypto.js';
import type { AuthRuntime } from '../core/runtime.js';
import { findLiveSession } from '../core/sessions.js';
import { DEFAULT_TOTP, otpauthUri } from '../core/totp.js';
import { confirmTotp, findPendingTotp, hasConfirmedTotp, issueRecoveryCodes, startTotpEnrolment, totpSecretOf } from '../core/totp-credentials.js';
import { requestMeta, tenantOf } from '../web/request.js';
import { accountCsrf } from './account-sessions.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { readCookie, SESSION_COOKIE } from './cookies.js';
import { browserParams } from './html-form.js';
import { ErrorPage } from './pages/error-page.js';
import { RecoveryCodesPage, TotpEnabledPage, TotpEnrolPage } from './pages/totp-pages.js';
import { AuthorizePageError, sendPage } from './responses.js';

export async function accountTotpEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const issuer = rt.issuer(tenant.slug);
  const secret = readCookie(c, SESSION_COOKIE);
  const live = await findLiveSession(rt.db, tenant.id, secret);
  if (!live) return sendPage(c, 401, ErrorPage({ title: 'You are not signed in', message: 'Sign in to an application of this organisation first.' }));
  const { user } = live;
  if (await hasConfirmedTotp(rt.db, tenant.id, user.id)) return sendPage(c, 200, TotpEnabledPage({ username: user.username }));

  let error: string | undefined;
  let status = 200;
  if (c.req.method === 'POST') {
    const form = await browserParams(c);
    if (!safeEqual(form.get('csrf') ?? '', accountCsrf(secret!))) throw new AuthorizePageError(400, 'invalid_csrf', 'This form has expired; reload the page.');
    const code = (form.get('code') ?? '').replace(/\s/g, '').slice(0, 16);
    const codes = await rt.transaction(async (tx) => {
      if ((await confirmTotp(tx, rt.mfa, tenant.id, user.id, code, Math.floor(Date.now() / 1000))) !== 'ok') return undefined;
      const issued = await issueRecoveryCodes(tx, rt.mfa, tenant.id, user.id);
      await recordAudit(tx, { tenantId: tenant.id, action: 'mfa.totp.enrolled', outcome: 'success', actor: user.id, detail: { session: live.session.id } }, requestMeta(c, rt));
      return issued;
    });
    if (codes) return sendPage(c, 200, RecoveryCodesPage({ codes }));
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'mfa.totp.enrolled', outcome: 'failure', actor: user.id, detail: { reason: 'wrong_code' } }, requestMeta(c, rt));
    error = 'That code is not right. Check the time on your device and enter the current code.';
    status = 400;
  }
  const pending = (await findPendingTotp(rt.db, tenant.id, user.id)) ?? (await startTotpEnrolment(rt.db, rt.mfa, tenant.id, user.id, DEFAULT_TOTP)).credential;
  const { secret: key, base32 } = totpSecretOf(rt.mfa, pending);
  const uri = otpauthUri({ issuer: tenant.displayName, account: user.email ?? user.username, secret: key, algorithm: pending.algorithm, digits: pending.digits, period: pending.period });
  key.fill(0);
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  const qrDataUri = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  return sendPage(c, status, TotpEnrolPage({ action: `${issuer}/account/totp`, csrf: accountCsrf(secret!), username: user.username, qrDataUri, otpauthUri: uri, base32, error }));
}
