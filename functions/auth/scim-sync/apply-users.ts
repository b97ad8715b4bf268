// Applies the winning peer versions of users, and the peer's winning deletes, each in its own
// transaction: the local row takes the peer's values and its `meta.lastModified`, so the next
// round of the peer sees a version equal to its own and sends nothing back.
import { and, eq, isNull, sql } from 'drizzle-orm';
import { AUTH_EVENTS } from '../core/event-types.js';
import { groups, tokenFamilies, users } from '../core/schema.js';
import { revokeUserSessions } from '../core/sessions.js';
import { clearTombstone, setTombstone } from '../core/tombstones.js';
import type { SyncPlan } from './plan.js';
import { isUniqueClash, type RoundContext } from './round-context.js';

/** Deletes local copies that a newer tombstone of the peer overrules; the tombstone keeps the peer's time. */
export async function applyDeletes(x: RoundContext, deletes: SyncPlan['deletes']): Promise<void> {
  for (const d of deletes) {
    await x.rt.transaction(async (tx) => {
      const table = d.type === 'User' ? users : groups;
      const [gone] = await tx.delete(table).where(and(eq(table.tenantId, x.tenantId), eq(table.id, d.localId))).returning();
      if (!gone) return;
      await setTombstone(tx, x.tenantId, d.type, d.key, new Date(d.at));
      await x.rt.events.emit(
        tx,
        d.type === 'User'
          ? { type: AUTH_EVENTS.userDeleted, data: { tenant: x.tenantSlug, userId: d.localId, username: (gone as { username: string }).username } }
          : { type: AUTH_EVENTS.groupDeleted, data: { tenant: x.tenantSlug, groupId: d.localId, displayName: (gone as { displayName: string }).displayName } },
      );
      x.report.deleted++;
    });
  }
}

/** Creates or replaces local users from the peer's copies. A userName taken by another identity is a conflict. */
export async function applyUsers(x: RoundContext, items: SyncPlan['users']): Promise<void> {
  for (const { peer, localId } of items) {
    const v = peer.values;
    const cols = {
      username: v.username.toLowerCase(),
      externalId: peer.key,
      name: v.name,
      givenName: v.givenName,
      familyName: v.familyName,
      active: v.active,
      emails: v.emails,
      email: v.email,
      scimExtra: v.scimExtra,
      updatedAt: new Date(peer.at),
    };
    try {
      await x.rt.transaction(async (tx) => {
        if (localId) {
          const [before] = await tx.select({ active: users.active }).from(users).where(and(eq(users.tenantId, x.tenantId), eq(users.id, localId))).for('update');
          const [u] = await tx.update(users).set(cols).where(and(eq(users.tenantId, x.tenantId), eq(users.id, localId))).returning();
          if (!u) return;
          if (before?.active && !u.active) {
            // Deactivated at the peer: end the sessions and grants here too, as a local deactivation does.
            await revokeUserSessions(tx, x.tenantId, u.id);
            await tx
              .update(tokenFamilies)
              .set({ revokedAt: sql`now()`, revokedReason: 'user_disabled' })
              .where(and(eq(tokenFamilies.tenantId, x.tenantId), eq(tokenFamilies.userId, u.id), isNull(tokenFamilies.revokedAt)));
          }
          await x.rt.events.emit(tx, { type: AUTH_EVENTS.userUpdated, data: { tenant: x.tenantSlug, userId: u.id, username: u.username, active: u.active } });
        } else {
          const [u] = await tx.insert(users).values({ tenantId: x.tenantId, ...cols }).returning();
          await x.rt.events.emit(tx, { type: AUTH_EVENTS.userCreated, data: { tenant: x.tenantSlug, userId: u!.id, username: u!.username, externalId: u!.externalId } });
        }
        await clearTombstone(tx, x.tenantId, 'User', peer.key);
      });
      x.report.applied++;
    } catch (err) {
      if (!isUniqueClash(err)) throw err;
      x.report.conflicts.push({ type: 'User', key: peer.key, kind: 'uniqueness', detail: `userName "${cols.username}" belongs to another user here` });
    }
  }
}
