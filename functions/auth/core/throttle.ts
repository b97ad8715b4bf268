// Login throttling keyed by (account, source IP), counted from the audit trail (shared by every
// instance through the database, so scaling out does not multiply the allowance). A remote
// attacker can slow an account down but never lock its owner out: the delays of one address
// fall on that address, and the account-wide delay is short, capped, and skipped for addresses
// the owner signed in from before. No CAPTCHA, no permanent lockout.
// @see https://www.keycloak.org/docs/latest/server_admin/#password-guess-brute-force-attacks
// @see https://help.okta.com/en-us/content/topics/security/threat-insight/unknown-device-lockout.htm
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';

export const LOGIN_THROTTLE = Object.freeze({
  /** Failures older than this are forgotten. */
  windowSeconds: 900,
  /** Failures from one address on one account before the first delay. */
  freePerPair: 3,
  /** First delay of a pair (doubles with each further failure), and its cap. */
  pairBaseSeconds: 15,
  pairMaxSeconds: 900,
  /** Failures on one account, from every unknown address together, before it is slowed. */
  freePerAccount: 10,
  accountBaseSeconds: 2,
  /** Short on purpose: this delay falls on the owner too when they use a new address. */
  accountMaxSeconds: 60,
  /** Failures from one address across every account (a spraying address). */
  perIp: 30,
  /** An address the owner signed in from this recently is known: no account-wide delay. */
  knownAddressDays: 30,
});

interface ThrottleVerdict {
  limited: boolean;
  reason?: 'pair' | 'account' | 'ip';
  retryAfterSeconds?: number;
}

/** The delay after `failures` failures: none up to `free`, then base, 2·base, 4·base … up to max. */
export function backoffSeconds(failures: number, free: number, base: number, max: number): number {
  if (failures < free) return 0;
  return Math.min(base * 2 ** Math.min(failures - free, 30), max);
}

interface Counts {
  now: Date;
  pair_n: number;
  pair_last: Date | null;
  account_n: number;
  account_last: Date | null;
  ip_n: number;
  ip_first: Date | null;
  known: boolean;
}

/**
 * Decides from the counts whether this attempt must wait. Failures count since the owner's last
 * successful sign-in: the owner getting in resets what an attacker built up.
 */
export function throttleVerdict(c: Counts, t = LOGIN_THROTTLE): ThrottleVerdict {
  const now = c.now.getTime();
  const waits: { reason: 'pair' | 'account' | 'ip'; until: number }[] = [];
  const pairDelay = backoffSeconds(c.pair_n, t.freePerPair, t.pairBaseSeconds, t.pairMaxSeconds);
  if (pairDelay && c.pair_last) waits.push({ reason: 'pair', until: c.pair_last.getTime() + pairDelay * 1000 });
  const accountDelay = c.known ? 0 : backoffSeconds(c.account_n, t.freePerAccount, t.accountBaseSeconds, t.accountMaxSeconds);
  if (accountDelay && c.account_last) waits.push({ reason: 'account', until: c.account_last.getTime() + accountDelay * 1000 });
  if (c.ip_n >= t.perIp && c.ip_first) waits.push({ reason: 'ip', until: c.ip_first.getTime() + t.windowSeconds * 1000 });
  const worst = waits.filter((w) => w.until > now).sort((a, b) => b.until - a.until)[0];
  if (!worst) return { limited: false };
  return { limited: true, reason: worst.reason, retryAfterSeconds: Math.max(1, Math.ceil((worst.until - now) / 1000)) };
}

/**
 * Counts the recent failed logins of (account, ip), of the account and of the ip in one round
 * trip, and decides. `userId` is the account's user when it exists (its successes are audited
 * under its id); `account` is the normalised name the failures are audited under.
 */
export async function checkLoginThrottle(q: Queryable, tenantId: string, account: string, userId: string | undefined, ip: string | undefined): Promise<ThrottleVerdict> {
  const t = LOGIN_THROTTLE;
  const ipValue = ip ?? null;
  const rows = rowsOf<Counts>(
    await q.execute(sql`with last_ok as (
        select coalesce(max(at), '-infinity'::timestamptz) as at from auth.audit
        where tenant_id = ${tenantId} and action = 'login' and outcome = 'success' and actor = ${userId ?? null}::text
      ), f as (
        select a.ip, a.at from auth.audit a, last_ok
        where a.tenant_id = ${tenantId} and a.action = 'login' and a.outcome = 'failure' and a.actor = ${account}
          and a.at > now() - make_interval(secs => ${t.windowSeconds}) and a.at > last_ok.at
      ), by_ip as (
        select count(*)::int as n, min(at) as first from (
          select at from auth.audit
          where tenant_id = ${tenantId} and action = 'login' and outcome = 'failure' and ip = ${ipValue}::text
            and at > now() - make_interval(secs => ${t.windowSeconds})
          order by at desc limit ${t.perIp}) recent
      )
      select now() as now,
        (select count(*)::int from f where ip = ${ipValue}::text) as pair_n,
        (select max(at) from f where ip = ${ipValue}::text) as pair_last,
        (select count(*)::int from f) as account_n,
        (select max(at) from f) as account_last,
        (select n from by_ip) as ip_n,
        (select first from by_ip) as ip_first,
        exists (select 1 from auth.audit where tenant_id = ${tenantId} and action = 'login' and outcome = 'success'
          and actor = ${userId ?? null}::text and ip = ${ipValue}::text and at > now() - make_interval(days => ${t.knownAddressDays})) as known`),
  );
  const r = rows[0]!;
  const date = (v: unknown) => (v == null ? null : v instanceof Date ? v : new Date(String(v)));
  return throttleVerdict({ ...r, now: date(r.now)!, pair_last: date(r.pair_last), account_last: date(r.account_last), ip_first: date(r.ip_first) }, t);
}
