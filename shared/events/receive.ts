// The consumer side: a Hono handler that accepts CloudEvents (binary or structured mode),
// validates them against the catalog and runs the function's handler exactly once per event,
// recording (source, id) in the product's inbox in the same transaction as the handler's effect.
import type { Context } from 'hono';
import { fillPlaceholders, sql } from 'drizzle-orm';
import { rowsOf, type Database, type Tx } from '#shared/db/index';
import { compileStatement, queryInTransaction } from '#shared/db/pipelined';
import { AppError } from '#shared/http/errors';
import type { Logger } from '#shared/log/index';
import { jsonData, parseCloudEvent } from './cloudevent.js';
import { effectiveEventType } from './schedule.js';
import type { EventSchemas } from './schemas.js';

/** A validated event as a handler sees it. */
export interface ReceivedEvent<T = unknown> {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string | undefined;
  readonly time: string | undefined;
  /** Every context attribute, extensions included. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The payload, parsed by the catalog schema of `type`. */
  readonly data: T;
}

/** Runs inside the inbox transaction: its writes commit with the inbox row or not at all. */
type TransactionalEventHandler = (event: ReceivedEvent<any>, tx: Tx) => Promise<void>;

/**
 * A handler with slow reads that must not hold a transaction (a network fetch): `prepare` runs
 * first, outside any transaction (for a redelivered event too, so it only reads), then `apply`
 * in the inbox transaction with what `prepare` returned. On PGlite's one connection a fetch inside
 * the transaction would stall every other request for as long as it waits.
 */
export interface PreparedEventHandler<P = any> {
  prepare(event: ReceivedEvent<any>): Promise<P>;
  apply(event: ReceivedEvent<any>, tx: Tx, prepared: P): Promise<void>;
}

export type EventHandler = TransactionalEventHandler | PreparedEventHandler;

interface ReceiverOptions {
  database: Database;
  /** The product whose `<product>.inbox` records processed events. */
  product: string;
  catalog: EventSchemas;
  handlers: Readonly<Record<string, EventHandler>>;
  log: Logger;
}

/** Header telling the sender (and tests) whether the event ran now or was a redelivery. */
const EVENT_STATUS_HEADER = 'zeno-event-status';

const SCHEMA = /^[a-z][a-z0-9_]*$/;

/**
 * Creates the POST handler. Answers: 202 once the effect is committed (or the event was already
 * processed), 4xx for an event that can never succeed (Knative does not retry "other 4xx"),
 * 500 when the handler failed (rolled back; the Broker retries).
 * @see https://github.com/knative/specs/blob/main/specs/eventing/data-plane.md#event-acknowledgement-and-delivery-retry
 */
export function createEventReceiver(opts: ReceiverOptions): (c: Context) => Promise<Response> {
  if (!SCHEMA.test(opts.product)) throw new TypeError(`invalid product schema name: ${opts.product}`);
  const inbox = sql`${sql.identifier(opts.product)}.inbox`;
  const insertStatement = (v: Record<'source' | 'id' | 'type', unknown>) =>
    sql`insert into ${inbox} (source, id, type) values (${v.source}, ${v.id}, ${v.type}) on conflict do nothing returning id`;
  // The same text for every event: compiled once, and run straight on postgres.js where it can.
  const insert = compileStatement(insertStatement({ source: sql.placeholder('source'), id: sql.placeholder('id'), type: sql.placeholder('type') }));
  return async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const wire = parseCloudEvent(c.req.raw.headers, body);
    const { id, source } = wire.attributes as { id: string; source: string };
    const type = effectiveEventType(wire.attributes);
    const handler = opts.handlers[type];
    if (!handler) {
      throw new AppError(400, 'unhandled_event_type', 'Bad Request', { detail: `This function does not handle events of type ${type}.` });
    }
    const parsed = opts.catalog.parse(type, jsonData(wire));
    if (!parsed.ok) {
      throw new AppError(400, 'invalid_event_data', 'Bad Request', {
        detail: `The data of this ${type} event does not match its catalog schema.`,
        extras: { errors: parsed.problems },
      });
    }
    const event: ReceivedEvent = {
      id,
      source,
      type,
      subject: wire.attributes.subject,
      time: wire.attributes.time,
      attributes: wire.attributes,
      data: parsed.data,
    };
    let fresh = false;
    try {
      const prepared: unknown = typeof handler === 'function' ? undefined : await handler.prepare(event);
      await opts.database.transaction(async (tx) => {
        // A concurrent twin blocks on the primary key until this commits, then finds the row.
        const values = { source, id, type };
        const inserted =
          (await queryInTransaction(tx, { sql: insert.sql, params: fillPlaceholders(insert.params, values) })) ??
          rowsOf(await tx.execute(insertStatement(values)));
        fresh = inserted.length > 0;
        if (fresh) await (typeof handler === 'function' ? handler(event, tx) : handler.apply(event, tx, prepared));
      });
    } catch (err) {
      if (err instanceof AppError && err.status < 500) throw err;
      opts.log.error('event handler failed', { event_id: id, event_source: source, type, err });
      throw new AppError(500, 'event_handler_failed', 'Internal Server Error', {
        detail: 'The event was not processed and nothing of it was kept; deliver it again later.',
      });
    }
    return c.body(null, 202, { [EVENT_STATUS_HEADER]: fresh ? 'processed' : 'duplicate' });
  };
}
