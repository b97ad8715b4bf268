// The outbox publisher: an event row written in the caller's transaction, plus a NOTIFY that
// Postgres delivers only if that transaction commits, waking the relay without a poll.
import { randomUUID } from 'node:crypto';
import { fillPlaceholders, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { compileStatement, sendInTransaction } from '#shared/db/pipelined';
import type { EventPublisher, OutgoingEvent } from './publisher.js';

/** The channel the relay listens on; the payload is the product (schema) name. */
export const OUTBOX_CHANNEL = 'zeno_outbox';

const SCHEMA = /^[a-z][a-z0-9_]*$/;

interface PublisherOptions {
  /** The product whose schema holds the `outbox` table. */
  product: string;
  /** CloudEvents `source`, e.g. `/auth/token`. */
  source: string;
  /** Optional payload check (the catalog's schema for the type); throws on mismatch. */
  check?: (event: OutgoingEvent) => void;
  /**
   * Wakes a relay running in this process instead of sending NOTIFY. A NOTIFY makes Postgres
   * serialise every notifying commit behind one lock held across its WAL flush (a few hundred
   * commits/s server-wide on a slow disk); the in-process relay instead polls briefly until the
   * commit is visible. Without it, emit sends `pg_notify` as before.
   */
  wake?: () => void;
}

/** Creates the publisher a function's code calls as `ctx.events.emit(tx, event)`. */
export function createEventPublisher(opts: PublisherOptions): EventPublisher {
  if (!SCHEMA.test(opts.product)) throw new TypeError(`invalid product schema name: ${opts.product}`);
  const table = sql.identifier(opts.product);
  const insertStatement = (v: Record<'id' | 'type' | 'subject' | 'data', unknown>) =>
    sql`insert into ${table}.outbox (id, type, source, subject, data)
          values (${v.id}, ${v.type}, ${opts.source}, ${v.subject}, ${v.data}::jsonb)
          on conflict (id) do nothing`;
  // The statement text is the same for every event of this product: compiled once, filled per event.
  const insert = compileStatement(insertStatement({ id: sql.placeholder('id'), type: sql.placeholder('type'), subject: sql.placeholder('subject'), data: sql.placeholder('data') }));
  return {
    async emit(tx: Queryable, event: OutgoingEvent): Promise<string> {
      opts.check?.(event);
      const id = event.id ?? randomUUID();
      const data: unknown = JSON.stringify(event.data);
      if (typeof data !== 'string') throw new TypeError(`event data of ${event.type} is not a JSON object`);
      // Every parameter is a string or null, as sendInTransaction requires.
      const values = { id: String(id), type: String(event.type), subject: event.subject == null ? null : String(event.subject), data };
      // Nothing is read back, so in a postgres.js transaction the row travels with the caller's
      // next statement or COMMIT, and a failure still fails (rolls back) the whole transaction.
      if (!sendInTransaction(tx, { sql: insert.sql, params: fillPlaceholders(insert.params, values) })) await tx.execute(insertStatement(values));
      if (opts.wake) opts.wake();
      else await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, ${opts.product})`);
      return id;
    },
  };
}
