// A tenant's self-service sign-up policy (off, open, invite-only; allowed e-mail domains) and the
// rule that decides whether an address may sign up under it.
import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { signupPolicies } from './schema.js';

type SignupMode = 'off' | 'open' | 'invite-only';
interface SignupPolicy {
  mode: SignupMode;
  allowedDomains: string[];
}

/** Why a sign-up is refused: a stable code for the audit row and the page. */
export type SignupRefusal = 'signup_off' | 'invite_required' | 'invite_other_email' | 'domain_not_allowed';

export async function findSignupPolicy(q: Queryable, tenantId: string): Promise<SignupPolicy> {
  const [row] = await q.select().from(signupPolicies).where(eq(signupPolicies.tenantId, tenantId));
  return row ? { mode: row.mode, allowedDomains: row.allowedDomains } : { mode: 'off', allowedDomains: [] };
}

export async function saveSignupPolicy(q: Queryable, tenantId: string, policy: SignupPolicy): Promise<void> {
  await q
    .insert(signupPolicies)
    .values({ tenantId, ...policy })
    .onConflictDoUpdate({ target: signupPolicies.tenantId, set: { mode: policy.mode, allowedDomains: policy.allowedDomains, updatedAt: sql`now()` } });
}

/** The domain of an address, lower-case (after the last `@`). */
export const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/**
 * Whether `email` may sign up: never when sign-up is off (an invitation does not open it); with a
 * live invitation when it is invite-only (and only as the invited address, when the invitation
 * names one); in every mode only with an allowed domain, when the tenant lists any.
 */
export function signupRefusal(policy: SignupPolicy, email: string, invite: { email: string | null } | undefined): SignupRefusal | undefined {
  if (policy.mode === 'off') return 'signup_off';
  if (policy.mode === 'invite-only' && !invite) return 'invite_required';
  if (invite?.email && invite.email !== email.toLowerCase()) return 'invite_other_email';
  if (policy.allowedDomains.length > 0 && !policy.allowedDomains.includes(domainOf(email))) return 'domain_not_allowed';
  return undefined;
}
