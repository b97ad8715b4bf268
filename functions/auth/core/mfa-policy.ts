// A tenant's second-factor policy and whether it asks one of a user: everyone (required), members
// of given groups, nested membership included (groups), or nobody (optional, the default).
import { eq, sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { mfaPolicies } from './schema.js';

type MfaPolicy = { mode: 'optional' | 'required' | 'groups'; groupIds: string[] };

export async function findMfaPolicy(q: Queryable, tenantId: string): Promise<MfaPolicy> {
  const [row] = await q.select().from(mfaPolicies).where(eq(mfaPolicies.tenantId, tenantId));
  return row ? { mode: row.mode, groupIds: row.groupIds } : { mode: 'optional', groupIds: [] };
}

/** Sets the policy; group ids must name groups of this tenant (the caller resolved them). */
export async function saveMfaPolicy(q: Queryable, tenantId: string, policy: MfaPolicy): Promise<void> {
  await q
    .insert(mfaPolicies)
    .values({ tenantId, ...policy })
    .onConflictDoUpdate({ target: mfaPolicies.tenantId, set: { mode: policy.mode, groupIds: policy.groupIds, updatedAt: sql`now()` } });
}

/** True when the tenant's policy asks a second factor of this user (nested groups walked upwards once). */
export async function mfaRequiredFor(q: Queryable, tenantId: string, userId: string): Promise<boolean> {
  const policy = await findMfaPolicy(q, tenantId);
  if (policy.mode === 'required') return true;
  if (policy.mode !== 'groups' || policy.groupIds.length === 0) return false;
  const rows = rowsOf<{ hit: boolean }>(
    await q.execute(sql`with recursive mine(id) as (
        select m.group_id from auth.group_members m join auth.groups g on g.id = m.group_id
        where m.user_id = ${userId} and g.tenant_id = ${tenantId}
        union
        select n.parent_id from auth.group_nesting n join mine on n.child_id = mine.id
      )
      select exists (select 1 from mine where id = any(${`{${policy.groupIds.join(',')}}`}::uuid[])) as hit`),
  );
  return rows[0]?.hit === true;
}
