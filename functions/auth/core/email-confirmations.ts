// E-mail confirmation links (after sign-up, and for a change of address): 256 random bits in the
// link, their SHA-256 in the row with the address it confirms; 24 hours, once. Confirming sets the
// address on the user as verified; a change applies only then, never when it is asked for.
import { and, count, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import { emailConfirmations, users, type User } from './schema.js';

export const CONFIRM_TTL_SECONDS = 86_400;
/** Links a user can be sent in an hour: enough for a lost mail, too few to flood a mailbox. */
const CONFIRMATIONS_PER_HOUR = 3;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export type ConfirmationPurpose = 'verify' | 'change';
interface PendingConfirmation {
  userId: string;
  email: string;
  purpose: ConfirmationPurpose;
}

/** A new link's token for `email`, or undefined when the user asked too often in the last hour. */
export async function createEmailConfirmation(q: Queryable, tenantId: string, userId: string, purpose: ConfirmationPurpose, email: string): Promise<string | undefined> {
  const [recent] = await q
    .select({ n: count() })
    .from(emailConfirmations)
    .where(and(eq(emailConfirmations.tenantId, tenantId), eq(emailConfirmations.userId, userId), gt(emailConfirmations.createdAt, sql`now() - interval '1 hour'`)));
  if ((recent?.n ?? 0) >= CONFIRMATIONS_PER_HOUR) return undefined;
  const token = randomHandle(32);
  await q.insert(emailConfirmations).values({ tokenHash: sha256Hex(token), tenantId, userId, purpose, email, expiresAt: sql`now() + make_interval(secs => ${CONFIRM_TTL_SECONDS})` });
  return token;
}

const live = (tenantId: string, token: string) =>
  and(eq(emailConfirmations.tokenHash, sha256Hex(token)), eq(emailConfirmations.tenantId, tenantId), isNull(emailConfirmations.usedAt), gt(emailConfirmations.expiresAt, sql`now()`));

const pendingColumns = { userId: emailConfirmations.userId, email: emailConfirmations.email, purpose: emailConfirmations.purpose };

/** What a live, unused link confirms (for showing the page), without spending it. */
export async function peekEmailConfirmation(q: Queryable, tenantId: string, token: string): Promise<PendingConfirmation | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const [row] = await q.select(pendingColumns).from(emailConfirmations).where(live(tenantId, token));
  return row;
}

/** Spends the link: of two requests with it exactly one gets what it confirms; the user's other links of the same purpose end too. */
export async function useEmailConfirmation(q: Queryable, tenantId: string, token: string): Promise<PendingConfirmation | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const [row] = await q.update(emailConfirmations).set({ usedAt: sql`now()` }).where(live(tenantId, token)).returning(pendingColumns);
  if (!row) return undefined;
  await q
    .update(emailConfirmations)
    .set({ usedAt: sql`now()` })
    .where(and(eq(emailConfirmations.tenantId, tenantId), eq(emailConfirmations.userId, row.userId), eq(emailConfirmations.purpose, row.purpose), isNull(emailConfirmations.usedAt)));
  return row;
}

/** True when another user of the tenant has `email` as address or username. */
export async function emailTaken(q: Queryable, tenantId: string, email: string, exceptUserId?: string): Promise<boolean> {
  const e = email.toLowerCase();
  const [row] = await q
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), sql`(lower(${users.email}) = ${e} or ${users.username} = ${e})`, exceptUserId ? ne(users.id, exceptUserId) : undefined))
    .limit(1);
  return row !== undefined;
}

/** Sets `email` as the user's verified address, and as the primary of the SCIM `emails` in place of the old primary (other entries kept). */
export async function applyConfirmedEmail(q: Queryable, tenantId: string, userId: string, email: string): Promise<User | undefined> {
  const others = sql`coalesce((select jsonb_agg(e) from jsonb_array_elements(${users.emails}) e where lower(e->>'value') <> lower(${email}) and (e->>'primary') is distinct from 'true'), '[]'::jsonb)`;
  const [row] = await q
    .update(users)
    .set({ email, emailVerified: true, emails: sql`jsonb_build_array(jsonb_build_object('value', ${email}::text, 'type', 'work', 'primary', true)) || ${others}`, updatedAt: sql`now()` })
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .returning();
  return row;
}
