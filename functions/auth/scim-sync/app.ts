// The scim-sync function: on its schedule, a sync round with each peer site of each tenant.
import { Hono } from 'hono';
import type { EventHandler } from '#shared/events/receive';
import type { FunctionContext } from '#shared/function/define';
import * as ev from '#eventing/catalog/auth';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { runSyncRounds } from './round.js';

/** One runtime per function context: createApp and the event handler share it. */
const runtimes = new WeakMap<FunctionContext, Promise<AuthRuntime>>();
const runtimeOf = (ctx: FunctionContext) => {
  let rt = runtimes.get(ctx);
  if (!rt) runtimes.set(ctx, (rt = createAuthRuntime(ctx)));
  return rt;
};

export function events(ctx: FunctionContext): Record<string, EventHandler> {
  return {
    // The rounds run after the event is acknowledged: they take longer than a delivery should, and
    // a round killed mid-way is resumed by the next tick (each step is idempotent).
    [ev.scimSyncScheduled.type]: async () => {
      setTimeout(() => {
        void runtimeOf(ctx)
          .then((rt) => runSyncRounds(rt))
          .catch((err: unknown) => ctx.log.error('scim sync failed', { err }));
      }, 0).unref();
    },
  };
}

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  await runtimeOf(ctx);
  return new Hono();
}
