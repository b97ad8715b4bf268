// POST {issuer}/login/second-factor: the code of the user's authenticator app (TOTP, each code
// once) or a recovery code, for a sign-in whose password was right. Wrong codes slow the account
// down exponentially (never a lockout); the session begins with amr ["pwd","otp","mfa"].
import type { Context } from 'hono';
import { and, count, eq, gt, sql } from 'drizzle-orm';
import { ACR } from '../core/acr.js';
import { recordAudit } from '../core/audit.js';
import { sha256Hex } from '../core/crypto.js';
import type { AuthRuntime } from '../core/runtime.js';
import { audit, mfaChallenges } from '../core/schema.js';
import { secondFactorsOf } from '../core/second-factors.js';
import { backoffSeconds } from '../core/throttle.js';
import { useRecoveryCode, verifyTotp } from '../core/totp-credentials.js';
import { findUserById } from '../core/users.js';
import { tenantOf } from '../web/request.js';
import { unknownTenantPage } from './authorize-endpoint.js';
import { beginSession } from './begin-session.js';
import { setSessionCookie } from './cookies.js';
import { afterAuthentication } from './flow.js';
import { readInteractionForm } from './interaction-form.js';
import { TotpChallengePage } from './pages/totp-pages.js';
import { AuthorizePageError, sendPage } from './responses.js';

/** Wrong codes per user before the delays start, the first delay and its cap (seconds). */
const CODE_THROTTLE = Object.freeze({ windowSeconds: 900, free: 3, base: 15, max: 300 });

export async function secondFactorEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenantPage);
  const posted = await readInteractionForm(c, rt, tenant);
  const { flow: f, form, handle } = posted;
  const [pending] = await rt.db
    .select()
    .from(mfaChallenges)
    .where(and(eq(mfaChallenges.interactionHash, sha256Hex(handle)), eq(mfaChallenges.tenantId, tenant.id), gt(mfaChallenges.expiresAt, sql`now()`)));
  if (!pending) throw new AuthorizePageError(400, 'challenge_expired', 'This sign-in has expired. Start again from the application.');
  const user = await findUserById(rt.db, tenant.id, pending.userId);
  if (!user?.active) throw new AuthorizePageError(400, 'challenge_expired', 'This sign-in has expired. Start again from the application.');
  const methods = await secondFactorsOf(rt.db, tenant.id, user.id);
  const again = (status: number, error: string) =>
    sendPage(c, status, TotpChallengePage({ action: `${f.issuer}/login/second-factor`, interaction: handle, csrf: posted.row.csrf!, tenantName: tenant.displayName, error, methods }));

  const [recent] = await rt.db
    .select({ n: count(), last: sql<string | null>`max(${audit.at})` })
    .from(audit)
    .where(and(eq(audit.tenantId, tenant.id), eq(audit.action, 'login.second_factor'), eq(audit.outcome, 'failure'), eq(audit.actor, user.id), gt(audit.at, sql`now() - make_interval(secs => ${CODE_THROTTLE.windowSeconds})`)));
  const delay = backoffSeconds(recent?.n ?? 0, CODE_THROTTLE.free, CODE_THROTTLE.base, CODE_THROTTLE.max);
  const waitUntil = recent?.last ? new Date(recent.last).getTime() + delay * 1000 : 0;
  if (delay && waitUntil > Date.now()) {
    const retryAfter = Math.ceil((waitUntil - Date.now()) / 1000);
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'login.second_factor.throttled', outcome: 'failure', actor: user.id, clientId: f.client.clientId, detail: { retryAfter } }, f.meta);
    c.header('retry-after', String(retryAfter));
    return again(429, `Too many wrong codes. Wait ${retryAfter} seconds, then try again.`);
  }

  const code = (form.get('code') ?? '').replace(/\s/g, '').slice(0, 64);
  if (!code) return again(400, 'Enter the code from your authenticator app.');
  const isTotp = /^[0-9]{6,8}$/.test(code);
  const outcome = await rt.transaction(async (tx) => {
    const result = isTotp ? await verifyTotp(tx, rt.mfa, tenant.id, user.id, code, Math.floor(Date.now() / 1000)) : (await useRecoveryCode(tx, rt.mfa, tenant.id, user.id, code)) ? 'ok' : 'invalid';
    if (result !== 'ok') return { ok: false, reason: result } as const;
    const [claimed] = await tx.delete(mfaChallenges).where(eq(mfaChallenges.interactionHash, pending.interactionHash)).returning();
    if (!claimed) return { ok: false, reason: 'expired' } as const;
    // RFC 8176: "otp" (RFC 6238 codes; a recovery code is a one-time password too), "mfa" as two factors were used.
    const amr = [...claimed.amr, 'otp', 'mfa'];
    const method = isTotp ? 'totp' : 'recovery_code';
    const s = await beginSession(c, tx, f, user, { acr: ACR.mfa, amr, method, authenticator: isTotp ? 'authenticator app' : 'recovery code' });
    return { ok: true, created: s } as const;
  });
  if (!outcome.ok) {
    await recordAudit(rt.db, { tenantId: tenant.id, action: 'login.second_factor', outcome: 'failure', actor: user.id, clientId: f.client.clientId, detail: { reason: outcome.reason, method: isTotp ? 'totp' : 'recovery_code' } }, f.meta);
    if (outcome.reason === 'expired') throw new AuthorizePageError(400, 'challenge_expired', 'This sign-in has expired. Start again from the application.');
    return again(401, outcome.reason === 'replayed' ? 'That code was already used. Wait for the next one.' : 'That code is not right.');
  }
  setSessionCookie(c, rt, tenant, outcome.created.secret);
  return afterAuthentication(c, f, posted.req, { session: outcome.created.session, user }, { row: posted.row, handle });
}
