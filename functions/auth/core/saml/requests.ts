// AuthnRequests as received: each request id once per SP, and the request kept while the user
// signs in (bound to the browser by the CSRF token of the sign-in form).
import { and, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from '../crypto.js';
import { samlRequests } from '../schema.js';
import { REQUEST_MAX_AGE_SECONDS } from './authn-request.js';
import { CLOCK_SKEW_SECONDS } from './constants.js';

/** What the SSO step needs to answer a request once the user is known. */
export interface PendingSso {
  spId: string;
  requestId: string | undefined;
  acsUrl: string;
  relayState: string | undefined;
  nameIdFormat: string;
  forceAuthn: boolean;
}

export const loginCsrf = (browserId: string, handle: string) => sha256Hex(`saml-login:${browserId}:${handle}`);

/**
 * Records a request; `undefined` when its id was seen before for this SP (a replay). The row lives
 * as long as the request may still be accepted (its IssueInstant up to CLOCK_SKEW_SECONDS ahead,
 * then REQUEST_MAX_AGE_SECONDS old): once it is pruned, IssueInstant alone refuses a replay.
 */
export async function recordRequest(q: Queryable, v: { tenantId: string; browserId: string; sso: PendingSso }): Promise<{ id: string; handle: string; csrf: string } | undefined> {
  const handle = randomHandle(32);
  const csrf = loginCsrf(v.browserId, handle);
  const [row] = await q
    .insert(samlRequests)
    .values({
      tenantId: v.tenantId,
      spId: v.sso.spId,
      requestId: v.sso.requestId ?? null,
      handleHash: sha256Hex(handle),
      csrf,
      params: { ...v.sso },
      expiresAt: sql`now() + make_interval(secs => ${REQUEST_MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS})`,
    })
    .onConflictDoNothing()
    .returning({ id: samlRequests.id });
  return row ? { id: row.id, handle, csrf } : undefined;
}

export async function findPending(q: Queryable, tenantId: string, handle: string) {
  if (!handle || handle.length > 100) return undefined;
  const [row] = await q
    .select()
    .from(samlRequests)
    .where(and(eq(samlRequests.handleHash, sha256Hex(handle)), eq(samlRequests.tenantId, tenantId), isNull(samlRequests.consumedAt), gt(samlRequests.expiresAt, sql`now()`)));
  return row ? { row, sso: row.params as unknown as PendingSso } : undefined;
}

/** Marks the request answered; false when it was answered already (a second tab, a replayed form). */
export async function consumePending(q: Queryable, tenantId: string, id: string): Promise<boolean> {
  const rows = await q
    .update(samlRequests)
    .set({ consumedAt: sql`now()` })
    .where(and(eq(samlRequests.id, id), eq(samlRequests.tenantId, tenantId), isNull(samlRequests.consumedAt), gt(samlRequests.expiresAt, sql`now()`)))
    .returning({ id: samlRequests.id });
  return rows.length === 1;
}

export async function setPendingUser(q: Queryable, tenantId: string, id: string, userId: string): Promise<void> {
  await q.update(samlRequests).set({ userId }).where(and(eq(samlRequests.id, id), eq(samlRequests.tenantId, tenantId)));
}

/** Deletes requests no longer acceptable (the scheduled clean-up); returns how many. */
export async function pruneSamlRequests(q: Queryable): Promise<number> {
  const rows = await q.delete(samlRequests).where(lt(samlRequests.expiresAt, sql`now()`)).returning({ id: samlRequests.id });
  return rows.length;
}
