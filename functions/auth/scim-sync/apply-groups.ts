// Applies the winning peer versions of groups in three passes, so that every group exists before a
// membership names it and every removal is done before any addition (a move inside the hierarchy
// never looks like a cycle half-way):
//   1. create missing groups and rename existing ones (their lastModified left as it was);
//   2. remove the direct members the peer's copy no longer has;
//   3. add the members it has, then stamp the group with the peer's lastModified.
// Only step 3 makes the local copy equal to the peer's, so a round killed before it leaves an
// older copy here, which the next round takes again. An addition that would close a cycle here is
// refused by the database; it is reported, and the group is stamped with the present time instead,
// so that the refusal travels back to the peer and both sites end without that edge.
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '#shared/db/index';
import { AUTH_EVENTS } from '../core/event-types.js';
import { addMembers, GroupRuleError, removeMembers } from '../core/groups.js';
import { directMembersOf } from '../core/membership.js';
import { groups, users } from '../core/schema.js';
import { clearTombstone } from '../core/tombstones.js';
import type { SyncPlan } from './plan.js';
import { isUniqueClash, type RoundContext } from './round-context.js';
import { tombstoneKey, type SiteState } from './site-state.js';

type GroupItem = SyncPlan['groups'][number];

/** The local ids of every user and group of the tenant, by `User:<key>` / `Group:<key>`. */
async function localIds(x: RoundContext): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const u = await x.rt.db.select({ id: users.id, key: sql<string>`coalesce(${users.externalId}, ${users.id}::text)` }).from(users).where(eq(users.tenantId, x.tenantId));
  const g = await x.rt.db.select({ id: groups.id, key: sql<string>`coalesce(${groups.externalId}, ${groups.id}::text)` }).from(groups).where(eq(groups.tenantId, x.tenantId));
  for (const r of u) out.set(tombstoneKey('User', r.key), r.id);
  for (const r of g) out.set(tombstoneKey('Group', r.key), r.id);
  return out;
}

/** Pass 1: the group row. Returns the local id, or undefined when its name belongs to another group here. */
async function upsertGroupRow(x: RoundContext, item: GroupItem): Promise<string | undefined> {
  const { peer } = item;
  try {
    return await x.rt.transaction(async (tx) => {
      if (item.localId) {
        const [cur] = await tx.select().from(groups).where(and(eq(groups.tenantId, x.tenantId), eq(groups.id, item.localId))).for('update');
        if (!cur) return undefined;
        if (cur.displayName !== peer.displayName || cur.externalId !== peer.key) {
          await tx.update(groups).set({ displayName: peer.displayName, externalId: peer.key }).where(eq(groups.id, cur.id));
          if (cur.displayName !== peer.displayName) {
            await x.rt.events.emit(tx, { type: AUTH_EVENTS.groupUpdated, data: { tenant: x.tenantSlug, groupId: cur.id, displayName: peer.displayName, externalId: peer.key } });
          }
        }
        return cur.id;
      }
      // Created with the oldest possible time: until pass 3 stamps it, any copy of the peer wins.
      const [g] = await tx.insert(groups).values({ tenantId: x.tenantId, displayName: peer.displayName, externalId: peer.key, updatedAt: new Date(0) }).returning();
      await clearTombstone(tx, x.tenantId, 'Group', peer.key);
      await x.rt.events.emit(tx, { type: AUTH_EVENTS.groupCreated, data: { tenant: x.tenantSlug, groupId: g!.id, displayName: g!.displayName, externalId: g!.externalId } });
      return g!.id;
    });
  } catch (err) {
    if (!isUniqueClash(err)) throw err;
    x.report.conflicts.push({ type: 'Group', key: peer.key, kind: 'uniqueness', detail: `displayName "${peer.displayName}" belongs to another group here` });
    return undefined;
  }
}

/** The local ids the peer's members stand for; undefined when one is missing here without a tombstone. */
function desiredMembers(x: RoundContext, item: GroupItem, ids: Map<string, string>, local: SiteState): string[] | undefined {
  const out: string[] = [];
  for (const m of item.peer.members) {
    const id = ids.get(tombstoneKey(m.type, m.key));
    if (id) out.push(id);
    else if (!local.tombstones.has(tombstoneKey(m.type, m.key))) {
      x.report.conflicts.push({ type: 'Group', key: item.peer.key, kind: 'pending', detail: `member ${m.type} ${m.key} is not here yet` });
      return undefined;
    }
    // A member deleted here (tombstone): left out; the delete reaches the peer and removes it there too.
  }
  return out;
}

const currentMembers = async (tx: Tx, groupId: string) => ((await directMembersOf(tx, [groupId])).get(groupId) ?? []).map((m) => m.value);

/** Passes 2 and 3 for every group that got through pass 1. */
async function applyMemberships(x: RoundContext, items: { item: GroupItem; groupId: string }[], local: SiteState): Promise<void> {
  const ids = await localIds(x);
  const ready: { item: GroupItem; groupId: string; want: string[] }[] = [];
  for (const it of items) {
    const want = desiredMembers(x, it.item, ids, local);
    if (want) ready.push({ ...it, want });
  }
  for (const { groupId, want } of ready) {
    await x.rt.transaction(async (tx) => {
      const removed = (await currentMembers(tx, groupId)).filter((id) => !want.includes(id));
      if (!removed.length) return;
      await removeMembers(tx, groupId, removed);
      await x.rt.events.emit(tx, { type: AUTH_EVENTS.groupMembershipChanged, data: { tenant: x.tenantSlug, groupId, added: [], removed } });
    });
  }
  const userIds = new Set([...ids].filter(([k]) => k.startsWith('User:')).map(([, id]) => id));
  for (const { item, groupId, want } of ready) {
    await x.rt.transaction(async (tx) => {
      const have = new Set(await currentMembers(tx, groupId));
      const added: string[] = [];
      const refused: string[] = [];
      for (const id of want.filter((m) => !have.has(m))) {
        try {
          // A savepoint per edge: a refused one leaves the others.
          await tx.transaction((sp) => addMembers(sp, x.tenantId, groupId, [{ value: id, type: userIds.has(id) ? 'User' : 'Group' }]));
          added.push(id);
        } catch (err) {
          if (!(err instanceof GroupRuleError) || err.code !== 'cycle') throw err;
          refused.push(id);
          x.report.conflicts.push({ type: 'Group', key: item.peer.key, kind: 'cycle', detail: `adding ${id} would close the cycle ${err.cycle.join(' -> ')}` });
        }
      }
      await tx
        .update(groups)
        .set({ updatedAt: refused.length ? sql`now()` : new Date(item.peer.at) })
        .where(and(eq(groups.tenantId, x.tenantId), inArray(groups.id, [groupId])));
      if (added.length) await x.rt.events.emit(tx, { type: AUTH_EVENTS.groupMembershipChanged, data: { tenant: x.tenantSlug, groupId, added, removed: [] } });
    });
    x.report.applied++;
  }
}

/** Applies the winning peer copies of groups (the three passes above). */
export async function applyGroups(x: RoundContext, items: SyncPlan['groups'], local: SiteState): Promise<void> {
  const rows: { item: GroupItem; groupId: string }[] = [];
  for (const item of items) {
    const groupId = await upsertGroupRow(x, item);
    if (groupId) rows.push({ item, groupId });
  }
  await applyMemberships(x, rows, local);
}
