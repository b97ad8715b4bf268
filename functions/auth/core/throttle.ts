// Login throttling per account and per source IP, counted from the audit trail (shared by every
// instance through the database, so scaling out does not multiply the allowance).
import { and, count, eq, gt, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { audit } from './schema.js';

const LOGIN_THROTTLE = Object.freeze({
  windowSeconds: 900,
  /** Failed attempts per account name in the window before it is refused. */
  perAccount: 5,
  /** Failed attempts per source IP in the window (many accounts from one address). */
  perIp: 30,
});

interface ThrottleVerdict {
  limited: boolean;
  reason?: 'account' | 'ip';
  retryAfterSeconds?: number;
}

/** Counts recent failed logins for the account and the IP; refuses once either limit is reached. */
export async function checkLoginThrottle(q: Queryable, tenantId: string, account: string, ip: string | undefined): Promise<ThrottleVerdict> {
  const since = sql`now() - make_interval(secs => ${LOGIN_THROTTLE.windowSeconds})`;
  const base = and(eq(audit.tenantId, tenantId), eq(audit.action, 'login'), eq(audit.outcome, 'failure'), gt(audit.at, since));
  const [byAccount] = await q.select({ n: count() }).from(audit).where(and(base, eq(audit.actor, account)));
  if ((byAccount?.n ?? 0) >= LOGIN_THROTTLE.perAccount) return { limited: true, reason: 'account', retryAfterSeconds: LOGIN_THROTTLE.windowSeconds };
  if (ip) {
    const [byIp] = await q.select({ n: count() }).from(audit).where(and(base, eq(audit.ip, ip)));
    if ((byIp?.n ?? 0) >= LOGIN_THROTTLE.perIp) return { limited: true, reason: 'ip', retryAfterSeconds: LOGIN_THROTTLE.windowSeconds };
  }
  return { limited: false };
}
