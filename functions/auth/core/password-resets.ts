// Password-reset links: 256 random bits in the link, their SHA-256 in the row, 30 minutes, once.
import { and, count, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import { passwordResets } from './schema.js';

export const RESET_TTL_SECONDS = 1_800;
/** Links a user can be sent in an hour: enough for a lost mail, too few to flood a mailbox. */
const RESETS_PER_HOUR = 3;

/** A new reset link's token, or undefined when the user asked too often in the last hour. */
export async function createPasswordReset(q: Queryable, tenantId: string, userId: string): Promise<string | undefined> {
  const [recent] = await q
    .select({ n: count() })
    .from(passwordResets)
    .where(and(eq(passwordResets.tenantId, tenantId), eq(passwordResets.userId, userId), gt(passwordResets.createdAt, sql`now() - interval '1 hour'`)));
  if ((recent?.n ?? 0) >= RESETS_PER_HOUR) return undefined;
  const token = randomHandle(32);
  await q.insert(passwordResets).values({ tokenHash: sha256Hex(token), tenantId, userId, expiresAt: sql`now() + make_interval(secs => ${RESET_TTL_SECONDS})` });
  return token;
}

/** The user of a live, unused link (for showing the form), without spending it. */
export async function peekPasswordReset(q: Queryable, tenantId: string, token: string): Promise<string | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const [row] = await q
    .select({ userId: passwordResets.userId })
    .from(passwordResets)
    .where(and(eq(passwordResets.tokenHash, sha256Hex(token)), eq(passwordResets.tenantId, tenantId), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, sql`now()`)));
  return row?.userId;
}

/** Spends the link: of two requests with it exactly one gets the user; every other link of the user ends too. */
export async function usePasswordReset(q: Queryable, tenantId: string, token: string): Promise<string | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const [row] = await q
    .update(passwordResets)
    .set({ usedAt: sql`now()` })
    .where(and(eq(passwordResets.tokenHash, sha256Hex(token)), eq(passwordResets.tenantId, tenantId), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, sql`now()`)))
    .returning({ userId: passwordResets.userId });
  if (!row) return undefined;
  await q.update(passwordResets).set({ usedAt: sql`now()` }).where(and(eq(passwordResets.tenantId, tenantId), eq(passwordResets.userId, row.userId), isNull(passwordResets.usedAt)));
  return row.userId;
}
