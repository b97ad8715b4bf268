// Devices a user signed in from: a session carries the SHA-256 of a long-lived random device
// cookie, so a sign-in from a device the user never used before can be announced.
import { and, eq, ne } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { sessions } from './schema.js';

/**
 * True when the user has earlier sessions (kept until the clean-up deletes them) and none from
 * this device. A user's very first sign-in is no news: there is nothing to compare it with.
 */
export async function isNewDevice(q: Queryable, tenantId: string, userId: string, deviceHash: string, sessionId: string): Promise<boolean> {
  const earlier = await q
    .select({ deviceHash: sessions.deviceHash })
    .from(sessions)
    .where(and(eq(sessions.tenantId, tenantId), eq(sessions.userId, userId), ne(sessions.id, sessionId)))
    .limit(1000);
  return earlier.length > 0 && !earlier.some((s) => s.deviceHash === deviceHash);
}
