// The outbox relay: delivers a product's outbox rows to the sink ($K_SINK) as CloudEvents.
// Claim with a lease and commit, deliver with no transaction open, then delete or reschedule:
// a crash anywhere loses nothing (the lease expires and the row is claimed again).
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { Logger } from '#shared/log/index';
import { jitteredDelayMs } from './backoff.js';
import { jsonEvent, type WireEvent } from './cloudevent.js';
import { OUTBOX_CHANNEL } from './outbox.js';
import { createEventSender, type EventSender, type SendResult } from './sender.js';
import { createAckBatcher, createInflight, pipelineControls } from './inflight.js';
import { startLeaseKeeper } from './lease.js';
import { NO_SYNC_COMMIT, startWorkLoop } from './work-loop.js';

export interface RelayOptions {
  database: Database;
  /** The product whose `<product>.outbox` this relay drains. */
  product: string;
  /** Where events go: the Broker ingress URL ($K_SINK). */
  sink: string;
  log: Logger;
  /** Rows claimed per cycle (default 200). */
  batchSize?: number;
  /** Deliveries in flight at once (default 64). */
  concurrency?: number;
  /**
   * How long a claim hides a row from other relays (default 10 s), renewed every third of it
   * while the delivery is in flight: a crashed relay's rows are claimed again after one lease.
   */
  leaseMs?: number;
  /** First retry delay (default 500 ms), doubled per attempt with jitter, capped at `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Fallback poll (default 5 s). */
  idleMs?: number;
  /** Concurrent claim-deliver-settle lanes (default 2). */
  lanes?: number;
  sender?: EventSender;
  /**
   * Delivers in process instead of over HTTP: `npm start` hands the relay its own broker's
   * ingress, which is in the same process as `sink`. Same contract: ok only once stored.
   */
  deliver?: (event: WireEvent) => Promise<SendResult>;
}

export interface OutboxRelay {
  /** An emit in this process wrote a row (not yet committed): poll briefly until it is visible. */
  hint(): void;
  /** Delivers everything due now (the sweep a scaled-to-zero function's leftovers need). */
  flush(): Promise<number>;
  /** Stops; in-flight deliveries finish, the rest stays in the outbox. */
  stop(): Promise<void>;
}

interface ClaimedRow extends Record<string, unknown> {
  seq: string | number;
  id: string;
  type: string;
  source: string;
  subject: string | null;
  data: string;
  time: string;
  attempts: number;
}

const SCHEMA = /^[a-z][a-z0-9_]*$/;

/** The declared products that have an `outbox` table in their schema. */
export async function productsWithOutbox(database: Database, products: readonly string[]): Promise<string[]> {
  if (products.length === 0) return [];
  // pg_catalog rather than information_schema: a few ms instead of tens on a function's start path.
  const rows = await database.query<{ schema: string }>(sql`
    select n.nspname as schema from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relname = 'outbox' and c.relkind in ('r', 'p') and n.nspname = any(${`{${products.join(',')}}`}::text[])`);
  return rows.map((r) => r.schema).sort();
}

function toWire(row: ClaimedRow): WireEvent {
  const attributes: Record<string, string> = { id: row.id, source: row.source, type: row.type, time: row.time };
  if (row.subject) attributes.subject = row.subject;
  return { ...jsonEvent(attributes, undefined), data: new TextEncoder().encode(row.data) };
}

/** Starts the relay: LISTEN on the outbox channel, a fallback timer, and an immediate sweep. */
export async function startOutboxRelay(opts: RelayOptions): Promise<OutboxRelay> {
  if (!SCHEMA.test(opts.product)) throw new TypeError(`invalid product schema name: ${opts.product}`);
  const { database, log } = opts;
  const outbox = sql`${sql.identifier(opts.product)}.outbox`;
  const batch = opts.batchSize ?? 200;
  const leaseMs = opts.leaseMs ?? 10_000;
  const backoffMs = opts.backoffMs ?? 500;
  const maxBackoffMs = opts.maxBackoffMs ?? 300_000;
  const ownSender = !opts.sender;
  const sender = opts.sender ?? createEventSender();
  const rlog = log.child({ relay: opts.product });

  const inflight = createInflight(opts.concurrency ?? 64, rlog);
  const acks = createAckBatcher(async (seqs) => {
    await database.query(sql`delete from ${outbox} where seq = any(${`{${seqs.join(',')}}`}::bigint[]) and ${sql.raw(NO_SYNC_COMMIT)}`);
  }, rlog);
  const leases = startLeaseKeeper({
    leaseMs,
    log: rlog,
    renew: async (seqs) => {
      await database.query(sql`update ${outbox} set next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
        where seq = any(${`{${seqs.join(',')}}`}::bigint[]) and ${sql.raw(NO_SYNC_COMMIT)}`);
    },
  });
  const deliver = opts.deliver ?? ((event: WireEvent) => sender.send(opts.sink, event));
  let delivered = 0;

  const deliverOne = async (row: ClaimedRow) => {
    const seq = String(row.seq);
    leases.hold(seq);
    let r: SendResult;
    try {
      r = await deliver(toWire(row));
    } finally {
      await leases.release(seq);
    }
    if (r.ok) {
      delivered++;
      acks.ack(String(row.seq));
      return;
    }
    // The sink refusing an event is kept and retried too: the outbox never drops an event.
    const delay = jitteredDelayMs(backoffMs, row.attempts, maxBackoffMs);
    rlog.warn('event delivery to sink failed', { event_id: row.id, type: row.type, attempts: row.attempts, error: r.error, retry_in_ms: delay });
    await database.query(sql`update ${outbox} set next_attempt_at = now() + ${delay} * interval '1 millisecond', last_error = ${r.error ?? 'unknown'} where seq = ${row.seq} and ${sql.raw(NO_SYNC_COMMIT)}`);
    loop.wakeIn(delay);
  };

  // Claims continue while earlier deliveries are in flight, up to the in-flight cap.
  const cycle = async () => {
    // Room is reserved before the claim and what the claim did not fill is given back, so two
    // lanes never claim past the in-flight cap (nor compute a negative LIMIT).
    const room = await inflight.reserve(batch);
    const want = room.size;
    // Deliveries acknowledged since the last claim are deleted by the claim statement itself.
    const gone = acks.take();
    const goneSeqs = `{${gone.join(',')}}`;
    // One autocommit statement: the claim is committed before any HTTP call starts.
    let rows: ClaimedRow[];
    try {
      rows = await database.query<ClaimedRow>(sql`
        ${gone.length > 0 ? sql`with gone as (delete from ${outbox} where seq = any(${goneSeqs}::bigint[]) and ${sql.raw(NO_SYNC_COMMIT)})` : sql``}
        update ${outbox} set next_attempt_at = now() + ${leaseMs} * interval '1 millisecond', attempts = attempts + 1
        where seq in (select seq from ${outbox} where next_attempt_at <= now()
                        ${gone.length > 0 ? sql`and seq <> all(${goneSeqs}::bigint[])` : sql``}
                      order by next_attempt_at, seq limit ${want} for update skip locked)
          and ${sql.raw(NO_SYNC_COMMIT)}
        returning seq, id, type, source, subject, data::text as data, attempts,
          to_char(time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as time`);
    } catch (err) {
      room.release();
      for (const seq of gone) acks.ack(seq);
      throw err;
    }
    for (const row of rows) room.run(() => deliverOne(row));
    room.release();
    return { claimed: rows.length, delivered: 0, more: rows.length === want };
  };

  const loop = startWorkLoop({ name: `outbox relay ${opts.product}`, cycle, log: rlog, lanes: opts.lanes, idleMs: opts.idleMs });
  const unlisten = await database.listen(OUTBOX_CHANNEL, (payload) => {
    if (payload === opts.product) loop.wake();
  });
  loop.wake();
  return {
    hint: () => loop.hint(),
    ...pipelineControls({
      loop,
      inflight,
      acks,
      delivered: () => delivered,
      unlisten,
      close: async () => {
        await leases.stop();
        if (ownSender) await sender.close();
      },
    }),
  };
}
