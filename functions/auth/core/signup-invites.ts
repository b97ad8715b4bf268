// Sign-up invitations: 256 random bits in the link, their SHA-256 in the row, used once.
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import { signupInvites } from './schema.js';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A new invitation's token (shown once to the admin who asked for it). */
export async function createSignupInvite(q: Queryable, tenantId: string, input: { email: string | undefined; ttlSeconds: number; createdBy: string }): Promise<{ token: string; expiresAt: Date }> {
  const token = randomHandle(32);
  const [row] = await q
    .insert(signupInvites)
    .values({ tokenHash: sha256Hex(token), tenantId, email: input.email?.toLowerCase() ?? null, createdBy: input.createdBy, expiresAt: sql`now() + make_interval(secs => ${input.ttlSeconds})` })
    .returning({ expiresAt: signupInvites.expiresAt });
  return { token, expiresAt: row!.expiresAt };
}

const live = (tenantId: string, token: string) =>
  and(eq(signupInvites.tokenHash, sha256Hex(token)), eq(signupInvites.tenantId, tenantId), isNull(signupInvites.usedAt), gt(signupInvites.expiresAt, sql`now()`));

/** A live, unused invitation (for showing the form), without spending it. */
export async function peekSignupInvite(q: Queryable, tenantId: string, token: string): Promise<{ email: string | null } | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const [row] = await q.select({ email: signupInvites.email }).from(signupInvites).where(live(tenantId, token));
  return row;
}

/** Spends the invitation: of two sign-ups with it exactly one gets true. */
export async function useSignupInvite(q: Queryable, tenantId: string, token: string): Promise<boolean> {
  if (!TOKEN.test(token)) return false;
  const rows = await q.update(signupInvites).set({ usedAt: sql`now()` }).where(live(tenantId, token)).returning({ tokenHash: signupInvites.tokenHash });
  return rows.length === 1;
}
