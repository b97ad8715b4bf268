// Outbound SCIM targets of a tenant and the push queue: which resources each change puts in line,
// and which users and groups a target receives (its selected groups, their nested groups and
// their members; everything when no group is selected).
import { randomUUID } from 'node:crypto';
import { and, asc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import type { PushSealer } from './scim-push-secrets.js';
import { scimPushQueue, scimTargets, type ScimTarget } from './schema.js';

export type PushResourceType = 'User' | 'Group';

interface TargetInput {
  name: string;
  url: string;
  token: string;
  groupIds: string[] | null;
  flatten: boolean;
}

const aadOf = (id: string) => `auth.scim_targets:${id}`;

export async function createTarget(q: Queryable, sealer: PushSealer, tenantId: string, input: TargetInput): Promise<ScimTarget | undefined> {
  const id = randomUUID();
  const [row] = await q
    .insert(scimTargets)
    .values({ id, tenantId, name: input.name, url: input.url.replace(/\/+$/, ''), tokenSealed: sealer.seal(input.token, aadOf(id)), groupIds: input.groupIds, flatten: input.flatten })
    .onConflictDoNothing()
    .returning();
  return row;
}

export const openTargetToken = (sealer: PushSealer, t: ScimTarget) => sealer.open(t.tokenSealed, aadOf(t.id));

export async function listTargets(q: Queryable, tenantId: string): Promise<ScimTarget[]> {
  return q.select().from(scimTargets).where(eq(scimTargets.tenantId, tenantId)).orderBy(asc(scimTargets.name));
}

export async function findTarget(q: Queryable, tenantId: string, id: string): Promise<ScimTarget | undefined> {
  const [row] = await q.select().from(scimTargets).where(and(eq(scimTargets.tenantId, tenantId), eq(scimTargets.id, id))).limit(1);
  return row;
}

export async function deleteTarget(q: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await q.delete(scimTargets).where(and(eq(scimTargets.tenantId, tenantId), eq(scimTargets.id, id))).returning({ id: scimTargets.id })).length > 0;
}

/**
 * Puts resources in line for every target of the tenant. A resource already waiting (not dead)
 * is not queued twice: the push sends the resource's state at delivery time.
 */
export async function enqueuePush(q: Queryable, tenantId: string, items: { type: PushResourceType; id: string }[], targetId?: string): Promise<void> {
  for (const it of items) {
    await q.execute(sql`
      insert into auth.scim_push_queue (tenant_id, target_id, resource_type, resource_id)
      select t.tenant_id, t.id, ${it.type}, ${it.id}::uuid from auth.scim_targets t
      where t.tenant_id = ${tenantId} ${targetId ? sql`and t.id = ${targetId}::uuid` : sql``}
        and not exists (select 1 from auth.scim_push_queue p where p.target_id = t.id and p.resource_type = ${it.type}
                        and p.resource_id = ${it.id}::uuid and p.dead_at is null and p.attempts = 0)`);
  }
}

/** Every group that contains `groupId`, directly or through nesting (its flattened members change with it). */
export async function ancestorGroupIds(q: Queryable, tenantId: string, groupId: string): Promise<string[]> {
  const rows = rowsOf<{ id: string }>(
    await q.execute(sql`
      with recursive a(id) as (
        select parent_id from auth.group_nesting where child_id = ${groupId}::uuid
        union
        select n.parent_id from auth.group_nesting n join a on n.child_id = a.id
      ) select a.id from a join auth.groups g on g.id = a.id and g.tenant_id = ${tenantId}`),
  );
  return rows.map((r) => r.id);
}

/** SQL for the ids of the selected groups and every group nested in them. */
const scopeGroups = (t: ScimTarget) => sql`(with recursive d(id) as (
    select g.id from auth.groups g where g.tenant_id = ${t.tenantId} and g.id in (${sql.join((t.groupIds?.length ? t.groupIds : [null]).map((id) => sql`${id}::uuid`), sql`, `)})
    union
    select n.child_id from auth.group_nesting n join d on n.parent_id = d.id
  ) select id from d)`;

/** True when the target receives this existing resource. */
export async function inTargetScope(q: Queryable, t: ScimTarget, type: PushResourceType, id: string): Promise<boolean> {
  if (t.groupIds === null) return true;
  const rows = rowsOf<{ ok: boolean }>(
    await q.execute(
      type === 'Group'
        ? sql`select ${id}::uuid in ${scopeGroups(t)} as ok`
        : sql`select exists (select 1 from auth.group_members gm where gm.user_id = ${id}::uuid and gm.group_id in ${scopeGroups(t)}) as ok`,
    ),
  );
  return rows[0]?.ok === true;
}

/** The dead letters of a target, oldest first. */
export async function deadLetters(q: Queryable, tenantId: string, targetId: string) {
  return q
    .select()
    .from(scimPushQueue)
    .where(and(eq(scimPushQueue.tenantId, tenantId), eq(scimPushQueue.targetId, targetId), isNotNull(scimPushQueue.deadAt)))
    .orderBy(asc(scimPushQueue.id));
}

/** Puts a target's dead letters back in line, with fresh attempts. */
export async function replayDeadLetters(q: Queryable, tenantId: string, targetId: string): Promise<number> {
  const rows = await q
    .update(scimPushQueue)
    .set({ deadAt: null, attempts: 0, nextAttemptAt: sql`now()` })
    .where(and(eq(scimPushQueue.tenantId, tenantId), eq(scimPushQueue.targetId, targetId), isNotNull(scimPushQueue.deadAt)))
    .returning({ id: scimPushQueue.id });
  return rows.length;
}

/** How many pushes wait (not dead) for a target. */
export async function pendingCount(q: Queryable, tenantId: string, targetId: string): Promise<number> {
  const [row] = await q
    .select({ n: sql<number>`count(*)::int` })
    .from(scimPushQueue)
    .where(and(eq(scimPushQueue.tenantId, tenantId), eq(scimPushQueue.targetId, targetId), isNull(scimPushQueue.deadAt)));
  return row?.n ?? 0;
}

/** The ids of every user and group a target receives (what a reconcile expects to find there). */
export async function idsInTargetScope(q: Queryable, t: ScimTarget): Promise<{ users: Set<string>; groups: Set<string> }> {
  const userRows = rowsOf<{ id: string }>(
    await q.execute(
      t.groupIds === null
        ? sql`select id from auth.users where tenant_id = ${t.tenantId}`
        : sql`select distinct gm.user_id as id from auth.group_members gm join auth.users u on u.id = gm.user_id and u.tenant_id = ${t.tenantId} where gm.group_id in ${scopeGroups(t)}`,
    ),
  );
  const groupRows = rowsOf<{ id: string }>(
    await q.execute(t.groupIds === null ? sql`select id from auth.groups where tenant_id = ${t.tenantId}` : sql`select id from ${scopeGroups(t)} s`),
  );
  return { users: new Set(userRows.map((r) => r.id)), groups: new Set(groupRows.map((r) => r.id)) };
}

/** Takes a target for one reconcile round, unless another round holds it; undefined when it is busy. */
export async function leaseReconcile(q: Queryable, tenantId: string, targetId: string, leaseSeconds: number): Promise<ScimTarget | undefined> {
  const [row] = await q
    .update(scimTargets)
    .set({ reconcileLeaseUntil: sql`now() + make_interval(secs => ${leaseSeconds})` })
    .where(and(eq(scimTargets.tenantId, tenantId), eq(scimTargets.id, targetId), sql`(${scimTargets.reconcileLeaseUntil} is null or ${scimTargets.reconcileLeaseUntil} < now())`))
    .returning();
  return row;
}

/** Records a round's outcome and lets the target go. */
export async function endReconcile(q: Queryable, targetId: string, outcome: Record<string, unknown>): Promise<void> {
  await q.update(scimTargets).set({ reconcileLeaseUntil: null, lastReconcileAt: sql`now()`, lastReconcile: outcome }).where(eq(scimTargets.id, targetId));
}

/** Targets whose last reconcile is older than `minutes` (or that never had one), and not held. */
export async function targetsDueForReconcile(q: Queryable, minutes: number): Promise<ScimTarget[]> {
  return q
    .select()
    .from(scimTargets)
    .where(
      sql`(${scimTargets.lastReconcileAt} is null or ${scimTargets.lastReconcileAt} < now() - make_interval(mins => ${minutes}))
          and (${scimTargets.reconcileLeaseUntil} is null or ${scimTargets.reconcileLeaseUntil} < now())`,
    )
    .orderBy(sql`${scimTargets.lastReconcileAt} asc nulls first`)
    .limit(20);
}
