// The dead-letter store in the `events` schema: every event a Trigger gave up on, as Knative
// dead-lettered it, until an operator replays or deletes it.
import { bigserial, customType, index, integer, jsonb, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';

export const events = pgSchema('events');

/** The event's data exactly as received (binary-mode bodies need not be text). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

export const deadLetters = events.table(
  'dead_letters',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    /**
     * SHA-256 of (source, id, subscriber, replay): Knative delivers to a dead-letter sink at least
     * once, so a redelivered dead letter is stored once; the same event failing again after a
     * replay is a new dead letter.
     */
    key: text().notNull().unique(),
    eventId: text().notNull(),
    source: text().notNull(),
    type: text().notNull(),
    /** `knativeerrordest`: the subscriber that failed ('' when the sender did not say). */
    subscriber: text().notNull(),
    /** `knativeerrorcode`: the subscriber's last HTTP status. */
    errorCode: integer(),
    /** `knativeerrordata`: the subscriber's last response body, base64, as Knative sends it. */
    errorData: text(),
    /** The dead letter's replay id (`zenoreplay`) when it failed again after a replay, else ''. */
    replayOf: text().notNull(),
    /** The event's context attributes, without the `knativeerror*` extensions and `zenoreplay`. */
    attributes: jsonb().$type<Record<string, string>>().notNull(),
    data: bytea(),
    receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** Set while a replay is being sent (a lease: a crashed replay can be retried after it). */
    replayStartedAt: timestamp({ withTimezone: true }),
    /** Set once the Broker accepted the replayed event; a replayed dead letter is not replayed again. */
    replayedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.type, t.seq), index().on(t.replayedAt)],
);

export type DeadLetter = typeof deadLetters.$inferSelect;
export type NewDeadLetter = typeof deadLetters.$inferInsert;
