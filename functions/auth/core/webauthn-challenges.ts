// WebAuthn challenges: 32 random bytes, stored (hashed) with what they are for and who may answer,
// deleted by the one request that answers them.
import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { sha256Hex } from './crypto.js';
import { webauthnChallenges } from './schema.js';

/** How long a ceremony may take: the options' timeout plus a margin for the round trip. */
const CHALLENGE_TTL_SECONDS = 300;

type Purpose = 'register' | 'sign-in' | 'second-factor';

/**
 * @see https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges "challenges SHOULD
 * therefore be at least 16 bytes long" and generated randomly by the Relying Party.
 */
export async function issueChallenge(q: Queryable, c: { tenantId: string; purpose: Purpose; userId: string | null; binding: string }): Promise<string> {
  const challenge = randomBytes(32).toString('base64url');
  await q.insert(webauthnChallenges).values({
    challengeHash: sha256Hex(challenge),
    tenantId: c.tenantId,
    purpose: c.purpose,
    userId: c.userId,
    binding: sha256Hex(c.binding),
    expiresAt: sql`now() + make_interval(secs => ${CHALLENGE_TTL_SECONDS})`,
  });
  return challenge;
}

type TakenChallenge = { ok: true; userId: string | null } | { ok: false; reason: 'challenge_unknown' | 'challenge_expired' };

/**
 * Deletes the challenge the client signed, when it was issued for this tenant, purpose and binding.
 * A second answer (a replayed assertion) finds nothing; a late one is deleted and refused.
 */
export async function takeChallenge(q: Queryable, c: { tenantId: string; purpose: Purpose; binding: string; challenge: string }): Promise<TakenChallenge> {
  if (c.challenge.length > 128) return { ok: false, reason: 'challenge_unknown' };
  const [row] = await q
    .delete(webauthnChallenges)
    .where(and(eq(webauthnChallenges.challengeHash, sha256Hex(c.challenge)), eq(webauthnChallenges.tenantId, c.tenantId), eq(webauthnChallenges.purpose, c.purpose), eq(webauthnChallenges.binding, sha256Hex(c.binding))))
    .returning({ userId: webauthnChallenges.userId, live: sql<boolean>`${webauthnChallenges.expiresAt} > now()` });
  if (!row) return { ok: false, reason: 'challenge_unknown' };
  if (!row.live) return { ok: false, reason: 'challenge_expired' };
  return { ok: true, userId: row.userId };
}
