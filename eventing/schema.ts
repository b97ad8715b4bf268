// The local Broker's durable state in the `eventing` schema: accepted events, one delivery row
// per matching Trigger, and the dead letters of deliveries that exhausted their retries.
import { bigint, bigserial, customType, index, integer, jsonb, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const eventing = pgSchema('eventing');

/** Raw event data: binary-mode bodies need not be text. */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

/**
 * Events accepted by a broker ingress; (broker, source, id, replay) dedupes a producer's
 * redelivery. `replay` is the `zenoreplay` extension of a dead letter sent again on purpose ('' otherwise).
 */
export const events = eventing.table(
  'events',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    broker: text().notNull(),
    id: text().notNull(),
    source: text().notNull(),
    type: text().notNull(),
    /** Every context attribute, as strings (datacontenttype included). */
    attributes: jsonb().$type<Record<string, string>>().notNull(),
    data: bytea(),
    receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    replay: text().notNull().default(''),
  },
  (t) => [uniqueIndex().on(t.broker, t.source, t.id, t.replay), index().on(t.receivedAt)],
);

/** One pending delivery of an event to one Trigger's subscriber; deleted once acknowledged. */
export const deliveries = eventing.table(
  'deliveries',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    eventSeq: bigint({ mode: 'number' }).notNull().references(() => events.seq, { onDelete: 'cascade' }),
    trigger: text().notNull(),
    subscriber: text().notNull(),
    /** Attempts started so far (incremented when claimed). */
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    lastStatus: integer(),
    lastError: text(),
  },
  (t) => [index().on(t.nextAttemptAt), index().on(t.eventSeq)],
);

/** Deliveries that exhausted `delivery.retry` (or failed with a non-retryable answer). */
export const deadLetters = eventing.table(
  'dead_letters',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    eventSeq: bigint({ mode: 'number' }).notNull().references(() => events.seq, { onDelete: 'cascade' }),
    trigger: text().notNull(),
    subscriber: text().notNull(),
    attempts: integer().notNull(),
    lastStatus: integer(),
    lastError: text(),
    /** The Trigger's `deadLetterSink` URL, when it has one. */
    sink: text(),
    /** Set once the event was delivered to `sink`. */
    forwardedAt: timestamp({ withTimezone: true }),
    deadAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.trigger), index().on(t.forwardedAt)],
);

export type BrokerEvent = typeof events.$inferSelect;
export type Delivery = typeof deliveries.$inferSelect;
export type DeadLetter = typeof deadLetters.$inferSelect;
