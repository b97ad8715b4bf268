// ZenoMail's event types. Payloads carry ids and counts only, never an address or a body.
import { z } from 'zod';
import { defineEventType } from './define.js';

const tenant = z.object({ tenant: z.string() });

/** A message was accepted and waits for delivery: the deliver function picks it up. */
const messageQueued = defineEventType({
  type: 'io.zenokube.mail.message.queued',
  version: '1',
  description: 'A message was accepted by the send API and waits for delivery.',
  schema: tenant.extend({ messageId: z.string() }),
});

/** A data subject's key was destroyed: their messages can no longer be read. */
const subjectErased = defineEventType({
  type: 'io.zenokube.mail.subject.erased',
  version: '1',
  description: "A data subject's key was destroyed (crypto-shredding); their unfinished mail was cancelled.",
  schema: tenant.extend({ subjectId: z.string(), messages: z.number().int(), cancelled: z.number().int() }),
});

/** Fired by the deliver function's schedule: deliver what is due (deferred retries, leftovers). */
const deliveryScheduled = defineEventType({
  type: 'io.zenokube.mail.delivery.scheduled',
  version: '1',
  description: 'Time to deliver the messages that are due (retries after a temporary failure, leftovers of a stopped pod).',
  schema: z.object({ schedule: z.string() }).loose(),
});

export const mailEvents = [messageQueued, subjectErased, deliveryScheduled] as const;
