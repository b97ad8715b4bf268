// Where dead letters go and what they carry: the path of the dead-letter sink on its function,
// and the extension attributes Knative adds to an event it dead-letters.
// @see https://knative.dev/docs/eventing/event-delivery/#configuring-channel-event-delivery
// @see https://github.com/knative/specs/blob/main/specs/eventing/data-plane.md#dead-letter-sink

/** Path on the dead-letter function that receives dead-lettered events (a Trigger's `deadLetterSink.uri`). */
export const DEAD_LETTER_PATH = '/_events';

/**
 * "knativeerrordest": the subscriber that failed; "knativeerrorcode": its last HTTP status;
 * "knativeerrordata": its last response body, base64-encoded (Knative truncates it).
 */
export const DEAD_LETTER_EXTENSIONS = {
  destination: 'knativeerrordest',
  code: 'knativeerrorcode',
  data: 'knativeerrordata',
} as const;

/**
 * Set on an event re-published by a dead-letter replay: the dead letter's id. Subscribers ignore
 * it; the local Broker takes it into its duplicate check, since a replay is the same event
 * (same source and id, so every subscriber's inbox still deduplicates it) sent again on purpose.
 */
export const REPLAY_EXTENSION = 'zenoreplay';
