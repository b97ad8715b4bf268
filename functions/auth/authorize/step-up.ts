// Step-up: whether a live session is strong enough for this request. The tenant's policy (required,
// or required for members of groups) and acr_values naming the MFA level ask for a second factor;
// a session without one signs in again with it, or, when the user has none and the policy
// demands it, is sent to set one up.
import { ACR } from '../core/acr.js';
import { mfaRequiredFor } from '../core/mfa-policy.js';
import type { Session, User } from '../core/schema.js';
import { hasSecondFactor } from '../core/second-factors.js';
import type { AuthzRequest } from './authorization-request.js';
import type { FlowContext } from './flow-context.js';

type StepUp = 'none' | 'login' | 'enrol';

/**
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest acr_values is a voluntary
 * claim: when the user has no second factor and only acr_values asked for one, the session's true
 * (weaker) acr is issued and the client decides. The tenant's policy is not voluntary.
 */
export async function stepUpNeeded(f: FlowContext, req: AuthzRequest, live: { session: Session; user: User }): Promise<StepUp> {
  if (live.session.acr === ACR.mfa) return 'none';
  const asked = (req.acrValues ?? []).includes(ACR.mfa);
  const policy = await mfaRequiredFor(f.rt.db, f.tenant.id, live.user.id);
  if (!asked && !policy) return 'none';
  if (await hasSecondFactor(f.rt.db, f.tenant.id, live.user.id)) return 'login';
  return policy ? 'enrol' : 'none';
}
