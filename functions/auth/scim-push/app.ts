// The scim-push function: every change to users, groups and memberships puts the resources it
// touched in line for each of the tenant's SCIM targets (in the event's inbox transaction), then
// the queue is drained; a schedule retries what is due.
import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '#shared/db/index';
import type { EventHandler, ReceivedEvent } from '#shared/events/receive';
import type { FunctionContext } from '#shared/function/define';
import * as ev from '#eventing/catalog/auth';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { ancestorGroupIds, enqueuePush, type PushResourceType } from '../core/scim-targets.js';
import { drainPushQueue } from './drain.js';
import { reconcileDueTargets } from './reconcile.js';

/** Each target's drift is reconciled this often (on the push schedule's tick). */
const RECONCILE_EVERY_MINUTES = 60;

/** One runtime per function context: createApp and the event handlers share it. */
const runtimes = new WeakMap<FunctionContext, Promise<AuthRuntime>>();
const runtimeOf = (ctx: FunctionContext) => {
  let rt = runtimes.get(ctx);
  if (!rt) runtimes.set(ctx, (rt = createAuthRuntime(ctx)));
  return rt;
};

async function tenantIdOf(tx: Tx, slug: string): Promise<string | undefined> {
  return rowsOf<{ id: string }>(await tx.execute(sql`select id from auth.tenants where slug = ${slug}`))[0]?.id;
}

/** Which of these ids are users of the tenant (the rest are groups). */
async function userIdsAmong(tx: Tx, tenantId: string, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = rowsOf<{ id: string }>(await tx.execute(sql`select id from auth.users where tenant_id = ${tenantId} and id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`));
  return new Set(rows.map((r) => r.id));
}

/** The resources an event touches. */
async function touched(tx: Tx, tenantId: string, e: ReceivedEvent<Record<string, unknown>>): Promise<{ type: PushResourceType; id: string }[]> {
  const d = e.data;
  if (typeof d.userId === 'string') return [{ type: 'User', id: d.userId }];
  if (typeof d.groupId !== 'string') return [];
  const items: { type: PushResourceType; id: string }[] = [{ type: 'Group', id: d.groupId }];
  if (e.type === ev.groupMembershipChanged.type) {
    // A nested change alters the flattened members of every group above, and a member that joined
    // or left may enter or leave a target's scope.
    for (const id of await ancestorGroupIds(tx, tenantId, d.groupId)) items.push({ type: 'Group', id });
    const ids = [...(d.added as string[]), ...(d.removed as string[])];
    const userIds = await userIdsAmong(tx, tenantId, ids);
    for (const id of ids) items.push({ type: userIds.has(id) ? 'User' : 'Group', id });
  }
  return items;
}

export function events(ctx: FunctionContext): Record<string, EventHandler> {
  const kick = () => {
    // After the inbox transaction commits; the schedule picks up whatever this misses.
    setTimeout(() => {
      void runtimeOf(ctx)
        .then((rt) => drainPushQueue(rt))
        .catch((err: unknown) => ctx.log.error('scim push drain failed', { err }));
    }, 50).unref();
  };
  const change: EventHandler = async (e, tx) => {
    const tenantId = await tenantIdOf(tx, String((e.data as { tenant?: unknown }).tenant));
    if (!tenantId) return;
    await enqueuePush(tx, tenantId, await touched(tx, tenantId, e as ReceivedEvent<Record<string, unknown>>));
    kick();
  };
  return {
    [ev.userCreated.type]: change,
    [ev.userUpdated.type]: change,
    [ev.userDeleted.type]: change,
    [ev.groupCreated.type]: change,
    [ev.groupUpdated.type]: change,
    [ev.groupDeleted.type]: change,
    [ev.groupMembershipChanged.type]: change,
    [ev.scimPushScheduled.type]: async () => {
      kick();
      // Reconcile rounds run after the tick is acknowledged; each holds its target by a lease.
      setTimeout(() => {
        void runtimeOf(ctx)
          .then(async (rt) => {
            if (await reconcileDueTargets(rt, RECONCILE_EVERY_MINUTES)) await drainPushQueue(rt);
          })
          .catch((err: unknown) => ctx.log.error('scim reconcile failed', { err }));
      }, 50).unref();
    },
  };
}

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  await runtimeOf(ctx);
  return new Hono();
}
