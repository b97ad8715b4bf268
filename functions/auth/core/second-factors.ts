// Which second factors a user has: a confirmed authenticator app (TOTP) and passkeys.
import { and, eq, isNull } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { countPasskeys } from './passkeys.js';
import { recoveryCodes } from './schema.js';
import { hasConfirmedTotp } from './totp-credentials.js';

export interface SecondFactors {
  totp: boolean;
  passkey: boolean;
}

export async function secondFactorsOf(q: Queryable, tenantId: string, userId: string): Promise<SecondFactors> {
  const [totp, passkeys] = await Promise.all([hasConfirmedTotp(q, tenantId, userId), countPasskeys(q, tenantId, userId)]);
  return { totp, passkey: passkeys > 0 };
}

export async function hasSecondFactor(q: Queryable, tenantId: string, userId: string): Promise<boolean> {
  const f = await secondFactorsOf(q, tenantId, userId);
  return f.totp || f.passkey;
}

/** True when the user still has an unused recovery code. */
export async function hasRecoveryCodes(q: Queryable, tenantId: string, userId: string): Promise<boolean> {
  const [row] = await q
    .select({ userId: recoveryCodes.userId })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.tenantId, tenantId), eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)))
    .limit(1);
  return !!row;
}
