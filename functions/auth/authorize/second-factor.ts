// The step between the password check and the session: a user with a confirmed TOTP authenticator
// or a passkey is asked for it (or a recovery code) before the session begins; the others complete
// with the password alone. amr and acr say what actually happened (RFC 8176).
import { ACR } from '../core/acr.js';
import { sha256Hex } from '../core/crypto.js';
import type { AuthRuntime } from '../core/runtime.js';
import { mfaChallenges, type Tenant, type User } from '../core/schema.js';
import { secondFactorsOf, type SecondFactors } from '../core/second-factors.js';
import { sql } from 'drizzle-orm';

/** A pending second factor lives as long as a code is worth typing, no longer. */
const CHALLENGE_TTL_SECONDS = 300;

export type SecondFactorStep =
  | { kind: 'complete'; acr: string; amr: string[] }
  /** Ask for the second factor; its POST ({issuer}/login/second-factor) resumes the same interaction. */
  | { kind: 'challenge'; methods: SecondFactors };

export interface SecondFactorPolicy {
  afterPassword(input: { tenant: Tenant; user: User; interactionHandle: string }): Promise<SecondFactorStep>;
}

/** Asks for TOTP or a passkey when the user has one; records the pending sign-in under the interaction. */
export function totpSecondFactor(rt: AuthRuntime): SecondFactorPolicy {
  return {
    async afterPassword({ tenant, user, interactionHandle }) {
      const methods = await secondFactorsOf(rt.db, tenant.id, user.id);
      if (!methods.totp && !methods.passkey) return { kind: 'complete', acr: ACR.password, amr: ['pwd'] };
      const values = { interactionHash: sha256Hex(interactionHandle), tenantId: tenant.id, userId: user.id, amr: ['pwd'], expiresAt: sql`now() + make_interval(secs => ${CHALLENGE_TTL_SECONDS})` };
      await rt.db
        .insert(mfaChallenges)
        .values(values)
        .onConflictDoUpdate({ target: mfaChallenges.interactionHash, set: { userId: user.id, tenantId: tenant.id, amr: ['pwd'], expiresAt: values.expiresAt } });
      return { kind: 'challenge', methods };
    },
  };
}
