// The `groups` claim of ID tokens: the user's groups, direct and inherited through nesting, as
// names or, for a client that asks for them (`groups_claim_format: ids`), as ids, which survive a
// rename. Bounded: past GROUPS_CLAIM_LIMIT names the ID token carries no list but a distributed
// claim (OIDC Core §5.6.2) pointing at UserInfo, which serves the whole list (as Entra ID's
// overage claim points at Graph).
import type { Queryable } from '#shared/db/index';
import { effectiveGroupsOf } from './membership.js';

/** Most group names an ID token carries; a header of 100 names stays far below proxies' limits. */
export const GROUPS_CLAIM_LIMIT = 100;

/** The names of every group of the user (UserInfo's list: not capped). */
export async function groupNames(q: Queryable, tenantId: string, userId: string): Promise<string[]> {
  return (await effectiveGroupsOf(q, tenantId, userId)).map((g) => g.displayName);
}

/** Every group of the user as the client asked: names or ids. */
export async function groupValues(q: Queryable, tenantId: string, userId: string, format: 'names' | 'ids'): Promise<string[]> {
  return (await effectiveGroupsOf(q, tenantId, userId)).map((g) => (format === 'ids' ? g.id : g.displayName));
}

/**
 * `{ groups: [...] }`, or when there are more than GROUPS_CLAIM_LIMIT the overage form
 * `{ _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint } } }`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AggregatedDistributedClaims
 */
export async function groupsClaim(q: Queryable, tenantId: string, userId: string, userinfoEndpoint: string, format: 'names' | 'ids' = 'names'): Promise<Record<string, unknown>> {
  const names = await groupValues(q, tenantId, userId, format);
  if (names.length <= GROUPS_CLAIM_LIMIT) return { groups: names };
  return { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: userinfoEndpoint } } };
}
