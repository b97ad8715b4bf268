// The seam between the password check and the session: where MFA (TOTP, passkeys) will ask for a
// second factor. Today no factor is enrolled, so every password login completes with amr ["pwd"].
import type { Tenant, User } from '../core/schema.js';

export type SecondFactorStep =
  | { kind: 'complete'; acr: string; amr: string[] }
  /** A page asking for the second factor; its POST resumes the same interaction. */
  | { kind: 'challenge'; response: Response };

export interface SecondFactorPolicy {
  afterPassword(input: { tenant: Tenant; user: User; interactionHandle: string }): Promise<SecondFactorStep>;
}

/** Password only: OIDC `acr` "0" is not used since a password is a real (single) factor. */
export const passwordOnly: SecondFactorPolicy = {
  async afterPassword() {
    return { kind: 'complete', acr: 'urn:zenokube:acr:pwd', amr: ['pwd'] };
  },
};
