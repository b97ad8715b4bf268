// The outbox and inbox tables every event-producing or -consuming product keeps in its own schema.
import { bigserial, index, integer, jsonb, primaryKey, text, timestamp, type PgSchema } from 'drizzle-orm/pg-core';

/**
 * Outbox: events written in the same transaction as the state change they announce,
 * delivered to the sink by the relay, deleted once the sink acknowledged them.
 */
export function outboxTable(schema: PgSchema<string>) {
  return schema.table(
    'outbox',
    {
      seq: bigserial({ mode: 'number' }).primaryKey(),
      id: text().notNull().unique(),
      type: text().notNull(),
      source: text().notNull(),
      subject: text(),
      data: jsonb().notNull(),
      time: timestamp({ withTimezone: true }).notNull().defaultNow(),
      attempts: integer().notNull().default(0),
      nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
      lastError: text(),
    },
    (t) => [index().on(t.nextAttemptAt)],
  );
}

/** Inbox: ids of events already processed, so a redelivered event has no second effect. */
export function inboxTable(schema: PgSchema<string>) {
  return schema.table(
    'inbox',
    {
      source: text().notNull(),
      id: text().notNull(),
      type: text().notNull(),
      receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [primaryKey({ columns: [t.source, t.id] })],
  );
}
