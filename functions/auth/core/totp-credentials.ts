// A user's TOTP authenticators and recovery codes: enrolment, confirmation by a first code,
// verification that accepts each code once (the matched step must be newer than the last one),
// and one-time recovery codes stored as keyed MACs.
import { randomBytes } from 'node:crypto';
import { and, eq, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import type { MfaSecrets } from './mfa-secrets.js';
import { recoveryCodes, totpCredentials, type TotpCredential } from './schema.js';
import { base32Encode, matchTotp, SECRET_BYTES, type TotpParams } from './totp.js';

const aadOf = (c: Pick<TotpCredential, 'tenantId' | 'userId' | 'id'>) => `totp:${c.tenantId}:${c.userId}:${c.id}`;

/** Starts an enrolment: a fresh secret (the HMAC's size), sealed; earlier unconfirmed ones are dropped. */
export async function startTotpEnrolment(q: Queryable, mfa: MfaSecrets, tenantId: string, userId: string, p: TotpParams): Promise<{ credential: TotpCredential; secret: Buffer }> {
  await q.delete(totpCredentials).where(and(eq(totpCredentials.tenantId, tenantId), eq(totpCredentials.userId, userId), isNull(totpCredentials.confirmedAt)));
  const secret = randomBytes(SECRET_BYTES[p.algorithm]);
  const id = crypto.randomUUID();
  const [credential] = await q
    .insert(totpCredentials)
    .values({ id, tenantId, userId, secretSealed: mfa.sealSecret(secret, aadOf({ tenantId, userId, id })), algorithm: p.algorithm, digits: p.digits, period: p.period })
    .returning();
  return { credential: credential!, secret };
}

/** The secret of a credential, for showing it again during enrolment. */
export function totpSecretOf(mfa: MfaSecrets, c: TotpCredential): { secret: Buffer; base32: string } {
  const secret = mfa.openSecret(c.secretSealed, aadOf(c));
  return { secret, base32: base32Encode(secret) };
}

export async function findPendingTotp(q: Queryable, tenantId: string, userId: string): Promise<TotpCredential | undefined> {
  const [row] = await q
    .select()
    .from(totpCredentials)
    .where(and(eq(totpCredentials.tenantId, tenantId), eq(totpCredentials.userId, userId), isNull(totpCredentials.confirmedAt)))
    .limit(1);
  return row;
}

export async function hasConfirmedTotp(q: Queryable, tenantId: string, userId: string): Promise<boolean> {
  const [row] = await q
    .select({ id: totpCredentials.id })
    .from(totpCredentials)
    .where(and(eq(totpCredentials.tenantId, tenantId), eq(totpCredentials.userId, userId), isNotNull(totpCredentials.confirmedAt)))
    .limit(1);
  return !!row;
}

type TotpCheck = 'ok' | 'invalid' | 'replayed';

/**
 * Checks `code` against the credential and, when it matches, records its step atomically: of two
 * requests with the same code exactly one wins. A matched step at or before the last accepted one
 * is a replay (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after
 * the successful validation has been issued for the first OTP").
 */
async function checkAndConsume(q: Queryable, mfa: MfaSecrets, c: TotpCredential, code: string, unixSeconds: number, confirm: boolean): Promise<TotpCheck> {
  let secret: Buffer;
  try {
    secret = mfa.openSecret(c.secretSealed, aadOf(c));
  } catch {
    // A row moved or forged by a database writer does not open: it verifies nothing.
    return 'invalid';
  }
  const step = matchTotp(secret, code, unixSeconds, { algorithm: c.algorithm, digits: c.digits, period: c.period });
  secret.fill(0);
  if (step === undefined) return 'invalid';
  const [won] = await q
    .update(totpCredentials)
    .set({ lastStep: step, ...(confirm ? { confirmedAt: sql`now()` } : {}) })
    .where(and(eq(totpCredentials.id, c.id), eq(totpCredentials.tenantId, c.tenantId), or(isNull(totpCredentials.lastStep), lt(totpCredentials.lastStep, step))))
    .returning({ id: totpCredentials.id });
  return won ? 'ok' : 'replayed';
}

/** Confirms the pending enrolment with its first code. */
export async function confirmTotp(q: Queryable, mfa: MfaSecrets, tenantId: string, userId: string, code: string, unixSeconds: number): Promise<TotpCheck> {
  const pending = await findPendingTotp(q, tenantId, userId);
  if (!pending) return 'invalid';
  return checkAndConsume(q, mfa, pending, code, unixSeconds, true);
}

/** Verifies a sign-in code against each confirmed authenticator of the user. */
export async function verifyTotp(q: Queryable, mfa: MfaSecrets, tenantId: string, userId: string, code: string, unixSeconds: number): Promise<TotpCheck> {
  const rows = await q
    .select()
    .from(totpCredentials)
    .where(and(eq(totpCredentials.tenantId, tenantId), eq(totpCredentials.userId, userId), isNotNull(totpCredentials.confirmedAt)));
  let outcome: TotpCheck = 'invalid';
  for (const c of rows) {
    const r = await checkAndConsume(q, mfa, c, code, unixSeconds, false);
    if (r === 'ok') return 'ok';
    if (r === 'replayed') outcome = 'replayed';
  }
  return outcome;
}

const RECOVERY_CODES = 10;

/** Replaces the user's recovery codes with 10 fresh ones (50 bits each), returned once. */
export async function issueRecoveryCodes(q: Queryable, mfa: MfaSecrets, tenantId: string, userId: string): Promise<string[]> {
  await q.delete(recoveryCodes).where(and(eq(recoveryCodes.tenantId, tenantId), eq(recoveryCodes.userId, userId)));
  const codes = Array.from({ length: RECOVERY_CODES }, () => base32Encode(randomBytes(7)).slice(0, 10)).map((c) => `${c.slice(0, 5)}-${c.slice(5)}`);
  await q.insert(recoveryCodes).values(codes.map((code) => ({ tenantId, userId, codeHash: mfa.macRecoveryCode(code) })));
  return codes;
}

/** Spends one recovery code, atomically; false when unknown or already used. */
export async function useRecoveryCode(q: Queryable, mfa: MfaSecrets, tenantId: string, userId: string, code: string): Promise<boolean> {
  if (code.length > 32) return false;
  const [won] = await q
    .update(recoveryCodes)
    .set({ usedAt: sql`now()` })
    .where(and(eq(recoveryCodes.tenantId, tenantId), eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, mfa.macRecoveryCode(code)), isNull(recoveryCodes.usedAt)))
    .returning({ userId: recoveryCodes.userId });
  return !!won;
}
