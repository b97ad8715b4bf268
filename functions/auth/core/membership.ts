// Effective (transitive) membership: a user in `eng-backend`, nested in `eng`, nested in
// `all-staff`, is a member of all three. Recursive queries over group_members and group_nesting,
// always bounded to one tenant; UNION (set semantics) makes each walk linear in the edges it meets.
import { sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { rowsOf } from '#shared/db/index';

export interface EffectiveGroup {
  id: string;
  displayName: string;
  /** True when the user is a direct member; false when only through nesting (SCIM `indirect`). */
  direct: boolean;
}

/**
 * The groups a user belongs to, directly or through nested groups, sorted by name.
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-4.1.2 (User "groups": "direct" or "indirect")
 */
export async function effectiveGroupsOf(q: Queryable, tenantId: string, userId: string): Promise<EffectiveGroup[]> {
  const rows = rowsOf<{ id: string; display_name: string; direct: boolean }>(
    await q.execute(sql`
      with recursive g(id, direct) as (
        select group_id, true from auth.group_members where user_id = ${userId}
        union
        select n.parent_id, false from auth.group_nesting n join g on n.child_id = g.id
      )
      select gr.id, gr.display_name, bool_or(g.direct) as direct
      from g join auth.groups gr on gr.id = g.id and gr.tenant_id = ${tenantId}
      group by gr.id, gr.display_name order by gr.display_name`),
  );
  return rows.map((r) => ({ id: r.id, displayName: r.display_name, direct: r.direct }));
}

/** SQL for the set of group ids at or below `groupId` (the group and every group nested in it). */
function groupAndDescendants(groupId: string): SQL {
  return sql`(with recursive d(id) as (
      select ${groupId}::uuid
      union
      select n.child_id from auth.group_nesting n join d on n.parent_id = d.id
    ) select id from d)`;
}

/** SQL: the user ids that are members of `groupId`, directly or through nested groups. */
export function effectiveMemberIdsSql(groupId: string): SQL {
  return sql`(select gm.user_id from auth.group_members gm where gm.group_id in ${groupAndDescendants(groupId)})`;
}

/** The users of the tenant that are members of a group, directly or through nesting. */
export async function effectiveMembersOf(q: Queryable, tenantId: string, groupId: string): Promise<string[]> {
  const rows = rowsOf<{ id: string }>(
    await q.execute(sql`select u.id from auth.users u where u.tenant_id = ${tenantId} and u.id in ${effectiveMemberIdsSql(groupId)} order by u.id`),
  );
  return rows.map((r) => r.id);
}

export interface DirectMember {
  value: string;
  type: 'User' | 'Group';
  display: string;
}

/** The direct members of groups (users and groups), by group id. */
export async function directMembersOf(q: Queryable, groupIds: string[]): Promise<Map<string, DirectMember[]>> {
  const out = new Map<string, DirectMember[]>(groupIds.map((id) => [id, []]));
  if (!groupIds.length) return out;
  const ids = sql.join(groupIds.map((id) => sql`${id}::uuid`), sql`, `);
  const rows = rowsOf<{ group_id: string; value: string; type: 'User' | 'Group'; display: string }>(
    await q.execute(sql`
      select gm.group_id, u.id as value, 'User' as type, u.username as display
        from auth.group_members gm join auth.users u on u.id = gm.user_id where gm.group_id in (${ids})
      union all
      select n.parent_id, g.id, 'Group', g.display_name
        from auth.group_nesting n join auth.groups g on g.id = n.child_id where n.parent_id in (${ids})
      order by 1, 3 desc, 4`),
  );
  for (const r of rows) out.get(r.group_id)?.push({ value: r.value, type: r.type, display: r.display });
  return out;
}
