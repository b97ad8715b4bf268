// POST /_events: the dead-letter sink every Trigger points at. Stores the event as Knative sent it,
// with the failure Knative attached, and answers 202 once it is committed.
// @see https://github.com/knative/specs/blob/main/specs/eventing/data-plane.md#dead-letter-sink
import type { Hono } from 'hono';
import type { Db } from '#shared/db/index';
import { parseCloudEvent } from '#shared/events/cloudevent';
import { DEAD_LETTER_EXTENSIONS, DEAD_LETTER_PATH, REPLAY_EXTENSION } from '#shared/events/dead-letter';
import { badRequest } from '#shared/http/errors';
import type { Logger } from '#shared/log/index';
import { storeDeadLetter } from '../core/dead-letters.js';
import type { DeadLetterMetrics } from './metrics.js';

/** The type is indexed: longer ones could not be (and no catalog type comes near it). */
const MAX_TYPE = 1024;
const MAX_ERROR_DATA = 8192;

/** An HTTP status, or undefined for anything else Knative (or a stranger) might send. */
function statusCode(value: string | undefined): number | undefined {
  if (value === undefined || !/^[1-5]\d\d$/.test(value)) return undefined;
  return Number(value);
}

export function mountDeadLetterSink(app: Hono<any>, deps: { db: Db; log: Logger; metrics: DeadLetterMetrics }): void {
  app.post(DEAD_LETTER_PATH, async (c) => {
    const wire = parseCloudEvent(c.req.raw.headers, new Uint8Array(await c.req.arrayBuffer()));
    const { [DEAD_LETTER_EXTENSIONS.destination]: dest, [DEAD_LETTER_EXTENSIONS.code]: code, [DEAD_LETTER_EXTENSIONS.data]: data, [REPLAY_EXTENSION]: replay, ...attributes } =
      wire.attributes;
    const { id, source, type } = attributes as { id: string; source: string; type: string };
    if (type.length > MAX_TYPE) throw badRequest('invalid_event', `The event type is longer than ${MAX_TYPE} characters.`);
    const subscriber = dest ?? '';
    const stored = await storeDeadLetter(deps.db, {
      eventId: id,
      source,
      type,
      subscriber,
      errorCode: statusCode(code),
      errorData: data === undefined ? null : data.slice(0, MAX_ERROR_DATA),
      replayOf: replay ?? '',
      attributes,
      data: wire.data ?? null,
    });
    if (stored) {
      deps.metrics.stored(type, subscriber);
      // No payload in the log: it may hold personal data; the store keeps it for the operator.
      deps.log.warn('dead letter stored', { event_id: id, type, subscriber, error_code: code });
    }
    return c.body(null, 202);
  });
}
