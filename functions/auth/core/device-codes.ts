// The device authorization grant's state (RFC 8628): device and user codes, the user's decision,
// and the atomic polling step that answers authorization_pending, slow_down or the grant.
import { randomInt } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import { deviceCodes, type DeviceCode } from './schema.js';

/**
 * RFC 8628 §6.1: "base-20 ... BCDFGHJKLMNPQRSTVWXZ" (no vowels, so no words; no digits or
 * letters easily confused) and 8 characters, about 34.5 bits, shown as XXXX-XXXX.
 */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
/** §3.2 expires_in: how long the user has to enter the code. */
export const DEVICE_CODE_TTL_SECONDS = 600;
/** §3.2 interval: "If no value is provided, clients MUST use 5 as the default." */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
/** §3.5 slow_down: "the interval MUST be increased by 5 seconds for this and all subsequent requests." */
const SLOW_DOWN_STEP_SECONDS = 5;

/** A fresh user code, `XXXXXXXX`, each letter drawn uniformly (randomInt has no modulo bias). */
export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** XXXX-XXXX, as the user reads it. */
export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/**
 * §6.1: "the authorization server SHOULD ... ignore characters like punctuation that are not in the
 * character set ... and SHOULD treat the input case-insensitively". Undefined when what remains is
 * not a user code at all.
 */
export function normaliseUserCode(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s\-_.]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}

interface NewDeviceRequest {
  tenantId: string;
  clientId: string;
  scope: string;
  resource: string[];
  authorizationDetails: Record<string, unknown>[] | null;
}

/** Stores a device authorization request; a user code that collides with a live one is drawn again. */
export async function createDeviceCode(q: Queryable, v: NewDeviceRequest): Promise<{ deviceCode: string; userCode: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const deviceCode = randomHandle(32);
    const userCode = generateUserCode();
    const rows = await q
      .insert(deviceCodes)
      .values({
        ...v,
        deviceCodeHash: sha256Hex(deviceCode),
        userCodeHash: sha256Hex(userCode),
        intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
        expiresAt: sql`now() + make_interval(secs => ${DEVICE_CODE_TTL_SECONDS})`,
      })
      .onConflictDoNothing()
      .returning({ hash: deviceCodes.deviceCodeHash });
    if (rows.length === 1) return { deviceCode, userCode };
  }
  throw new Error('could not draw a free user code');
}

/** The live, undecided request of `userCode` (normalised) in the tenant. */
export async function findPendingByUserCode(q: Queryable, tenantId: string, userCode: string): Promise<DeviceCode | undefined> {
  const [row] = await q
    .select()
    .from(deviceCodes)
    .where(and(eq(deviceCodes.tenantId, tenantId), eq(deviceCodes.userCodeHash, sha256Hex(userCode)), eq(deviceCodes.status, 'pending'), gt(deviceCodes.expiresAt, sql`now()`)));
  return row;
}

/** Records the user's decision on a still pending, live request; false when it was decided or expired meanwhile. */
export async function decideDeviceCode(
  q: Queryable,
  tenantId: string,
  deviceCodeHash: string,
  decision: { approved: false } | { approved: true; userId: string; sessionId: string; authTime: Date; acr: string; amr: string[] },
): Promise<boolean> {
  const set = decision.approved
    ? { status: 'approved' as const, userId: decision.userId, sessionId: decision.sessionId, authTime: decision.authTime, acr: decision.acr, amr: decision.amr }
    : { status: 'denied' as const };
  const rows = await q
    .update(deviceCodes)
    .set(set)
    .where(and(eq(deviceCodes.deviceCodeHash, deviceCodeHash), eq(deviceCodes.tenantId, tenantId), eq(deviceCodes.status, 'pending'), gt(deviceCodes.expiresAt, sql`now()`)))
    .returning({ hash: deviceCodes.deviceCodeHash });
  return rows.length === 1;
}

type DevicePoll =
  | { outcome: 'unknown' | 'expired' | 'denied' | 'used' | 'pending' }
  | { outcome: 'slow_down'; interval: number }
  | { outcome: 'approved'; row: DeviceCode };

/**
 * One poll of the token endpoint (RFC 8628 §3.4, §3.5), atomically: the row is locked, the poll
 * time recorded, and a poll sooner than `interval` after the previous one raises the interval.
 * An approved request is consumed here, so of two concurrent polls only one gets the tokens.
 */
export async function pollDeviceCode(q: Queryable, tenantId: string, clientId: string, deviceCode: string): Promise<DevicePoll> {
  const rows = rowsOf<{ status: DeviceCode['status']; expired: boolean; too_fast: boolean; interval_seconds: number }>(
    await q.execute(sql`with prev as (
        select device_code_hash, status, last_polled_at, interval_seconds, expires_at < now() as expired,
          (last_polled_at is not null and last_polled_at > now() - make_interval(secs => interval_seconds)) as too_fast
        from auth.device_codes
        where device_code_hash = ${sha256Hex(deviceCode)} and tenant_id = ${tenantId} and client_id = ${clientId}
        for update
      )
      update auth.device_codes d set
        last_polled_at = now(),
        interval_seconds = d.interval_seconds + case when prev.status = 'pending' and prev.too_fast then ${SLOW_DOWN_STEP_SECONDS}::int else 0 end,
        status = case when prev.status = 'approved' and not prev.expired then 'consumed' else d.status end
      from prev where d.device_code_hash = prev.device_code_hash
      returning prev.status, prev.expired, prev.too_fast, d.interval_seconds`),
  );
  const r = rows[0];
  if (!r) return { outcome: 'unknown' };
  if (r.status === 'consumed') return { outcome: 'used' };
  if (r.expired) return { outcome: 'expired' };
  if (r.status === 'denied') return { outcome: 'denied' };
  if (r.status === 'pending') return r.too_fast ? { outcome: 'slow_down', interval: r.interval_seconds } : { outcome: 'pending' };
  const [row] = await q.select().from(deviceCodes).where(and(eq(deviceCodes.deviceCodeHash, sha256Hex(deviceCode)), eq(deviceCodes.tenantId, tenantId)));
  return row ? { outcome: 'approved', row } : { outcome: 'unknown' };
}

/** RFC 8628 §5.1 brute force: user-code failures from one address before entries are slowed. */
export const USER_CODE_THROTTLE = Object.freeze({ windowSeconds: 900, free: 5, baseSeconds: 30, maxSeconds: 900 });

/** The failed user-code entries of `ip` in the tenant within the window, and the last one's time. */
export async function userCodeFailures(q: Queryable, tenantId: string, ip: string | undefined): Promise<{ n: number; last: Date | null; now: Date }> {
  const rows = rowsOf<{ n: number; last: Date | string | null; now: Date | string }>(
    await q.execute(sql`select count(*)::int as n, max(at) as last, now() as now from auth.audit
      where tenant_id = ${tenantId} and action = 'device.user_code' and outcome = 'failure' and ip is not distinct from ${ip ?? null}::text
        and at > now() - make_interval(secs => ${USER_CODE_THROTTLE.windowSeconds})`),
  );
  const r = rows[0]!;
  const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));
  return { n: r.n, last: r.last == null ? null : date(r.last), now: date(r.now) };
}
