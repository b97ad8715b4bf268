// Event types of the platform itself (the eventing product).
import { z } from 'zod';
import { defineEventType } from './define.js';

/** Fired by a schedule (the local PingSource) when a function declares no payload of its own. */
const scheduleTicked = defineEventType({
  type: 'io.zenokube.eventing.schedule.ticked',
  version: '1',
  description: 'A declared schedule fired.',
  schema: z.object({ schedule: z.string() }).loose(),
});

export const eventingEvents = [scheduleTicked] as const;
