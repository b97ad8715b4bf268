// ZenoScope's event types.
import { z } from 'zod';
import { defineEventType } from './define.js';

/** Fired by scope-reconcile's schedule (a PingSource): reconcile every resource, whatever events were missed. */
const resyncRequested = defineEventType({
  type: 'io.zenokube.scope.resync.requested',
  version: '1',
  description: 'Time to reconcile every ZenoScope and ZenoApp again (catches API events that were missed).',
  schema: z.object({ schedule: z.string() }).loose(),
});

export const scopeEvents = [resyncRequested] as const;
