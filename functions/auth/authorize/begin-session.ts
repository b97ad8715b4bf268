// Starting a browser session after a successful sign-in, whatever the authenticator: the session
// row with its device, the audit row, login.succeeded, and session.new-device (with a notice mailed
// through ZenoMail when the user has an address) when the device is one the user has not signed in
// from before. Runs in the caller's transaction.
import type { Context } from 'hono';
import { setCookie } from 'hono/cookie';
import type { Queryable } from '#shared/db/index';
import { recordAudit } from '../core/audit.js';
import { randomHandle, sha256Hex } from '../core/crypto.js';
import { isNewDevice } from '../core/devices.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { Session, User } from '../core/schema.js';
import { createSession } from '../core/sessions.js';
import { readCookie } from './cookies.js';
import type { FlowContext } from './flow-context.js';

/** A random id of the device, kept across sessions (400 days, the most browsers keep a cookie). */
const DEVICE_COOKIE = 'zk_device';
const DEVICE_MAX_AGE = 400 * 86_400;

/** The device id from its cookie, minted (and set) when absent; only its hash is stored. */
function deviceIdOf(c: Context, f: FlowContext): string {
  const existing = readCookie(c, DEVICE_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const id = randomHandle(32);
  setCookie(c, DEVICE_COOKIE, id, { path: `/auth/${f.tenant.slug}`, httpOnly: true, sameSite: 'Lax', secure: f.rt.secureCookies, maxAge: DEVICE_MAX_AGE });
  return id;
}

interface SignIn {
  acr: string;
  amr: string[];
  /** Audited as detail.method: password, totp, recovery_code, passkey. */
  method: string;
  /** Shown on the sessions page. */
  authenticator: string;
  detail?: Record<string, unknown>;
}

export async function beginSession(c: Context, tx: Queryable, f: FlowContext, user: User, s: SignIn): Promise<{ session: Session; secret: string }> {
  const deviceHash = sha256Hex(deviceIdOf(c, f));
  const created = await createSession(tx, { tenantId: f.tenant.id, userId: user.id, acr: s.acr, amr: s.amr, userAgent: f.meta.userAgent, ip: f.meta.ip, deviceHash, authenticator: s.authenticator });
  const sessionId = created.session.id;
  await recordAudit(tx, { tenantId: f.tenant.id, action: 'login', outcome: 'success', actor: user.id, clientId: f.client.clientId, detail: { session: sessionId, amr: s.amr, method: s.method, ...s.detail } }, f.meta);
  await f.rt.events.emit(tx, { type: AUTH_EVENTS.loginSucceeded, data: { tenant: f.tenant.slug, userId: user.id, sessionId, clientId: f.client.clientId } });
  if (await isNewDevice(tx, f.tenant.id, user.id, deviceHash, sessionId)) {
    await recordAudit(tx, { tenantId: f.tenant.id, action: 'session.new_device', outcome: 'success', actor: user.id, clientId: f.client.clientId, detail: { session: sessionId } }, f.meta);
    await f.rt.events.emit(tx, {
      type: AUTH_EVENTS.sessionNewDevice,
      data: { tenant: f.tenant.slug, userId: user.id, sessionId, userAgent: f.meta.userAgent?.slice(0, 512) ?? null, ip: f.meta.ip ?? null, authenticator: s.authenticator },
    });
    // The notice to the user, which ZenoMail sends (the zenoauth.new-device template).
    if (user.email) {
      await f.rt.events.emit(tx, {
        type: AUTH_EVENTS.mailRequested,
        data: {
          tenant: f.tenant.slug,
          template: 'new-device',
          to: user.email,
          userId: user.id,
          variables: { name: user.username, device: f.meta.userAgent?.slice(0, 200) || 'an unknown browser', ip: f.meta.ip ?? 'an unknown address', time: new Date().toISOString(), link: `${f.issuer}/account/sessions` },
        },
      });
    }
  }
  return created;
}
