// Group commit for the broker ingress: events arriving while a write is in flight are stored
// together in the next single statement (one commit for many events), each request still
// answered only after the commit that holds its event.
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { REPLAY_EXTENSION } from '#shared/events/dead-letter';
import { NO_SYNC_COMMIT } from '#shared/events/work-loop';
import { matchesTrigger, type Trigger } from './triggers.js';

const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** A dead letter's replay is the same event sent again on purpose: not a duplicate of the original. */
const replayOf = (attributes: Record<string, string>) => attributes[REPLAY_EXTENSION] ?? '';

/** Channel the dispatcher listens on; the payload is the broker name. */
export const BROKER_CHANNEL = 'zeno_broker';

export interface Accepted {
  /** The broker already had an event with this source and id: nothing new was stored. */
  duplicate: boolean;
  /** Deliveries created (one per matching Trigger). */
  deliveries: number;
}

/**
 * Stores one event. `opts.durable: false` lets the commit skip its WAL flush wait: only for a
 * caller whose own copy of the event outlives the answer in the same database, namely the
 * in-process relay, which deletes its outbox row afterwards. WAL is replayed in order, so a crash
 * that loses this commit also loses that later delete, and the event is delivered again.
 */
export type AcceptEvent = (
  broker: string,
  attributes: Record<string, string>,
  data: Uint8Array | undefined,
  opts?: { durable?: boolean },
) => Promise<Accepted>;

interface Pending {
  broker: string;
  attributes: Record<string, string>;
  data: Uint8Array | undefined;
  fanout: { trigger: string; subscriber: string }[];
  durable: boolean;
  resolve: (a: Accepted) => void;
  reject: (err: unknown) => void;
}

/** A delivery the acceptor stored already claimed (leased), with its event, to send at once. */
export interface HandedDelivery {
  seq: string | number;
  trigger: string;
  subscriber: string;
  attempts: number;
  attributes: Record<string, string>;
  data: Uint8Array | null;
}

/**
 * The dispatcher of this process, taking deliveries straight from the commit that stored them:
 * no claim statement, and no reading back of the event the acceptor holds. A handed delivery is
 * stored with the dispatcher's lease, so one that is never sent (a crash) is claimed again when
 * the lease expires, as any claimed delivery.
 */
export interface DeliveryHandoff {
  /** The lease handed deliveries are stored with. */
  readonly leaseMs: number;
  /** Reserves room for up to `n` deliveries (size 0 when busy). */
  reserve(n: number): HandoffReservation;
}

/** Room the dispatcher set aside for one statement's deliveries. */
interface HandoffReservation {
  readonly size: number;
  /** Sends the deliveries stored claimed (at most `size`) and gives back the rest of the room. */
  deliver(deliveries: HandedDelivery[]): void;
}

interface AcceptorOptions {
  /** Most events per statement (default 256). */
  maxBatch?: number;
  /** Statements in flight at once (default 2). */
  maxInFlight?: number;
  /**
   * Called after each commit that created deliveries. When set, no NOTIFY is sent: the
   * dispatcher in this process is woken directly (NOTIFY serialises notifying commits).
   */
  onStored?: (broker: string) => void;
  /** Hands new deliveries to the dispatcher of this process, as far as it has room (see DeliveryHandoff). */
  handoff?: DeliveryHandoff;
}

/** Creates the function that stores an event and its fan-out, batching concurrent callers. */
export function createEventAcceptor(database: Database, triggers: readonly Trigger[], opts: AcceptorOptions = {}): AcceptEvent {
  const maxBatch = opts.maxBatch ?? 256;
  const maxInFlight = opts.maxInFlight ?? 2;
  const handoff = opts.handoff;
  const queue: Pending[] = [];
  let inFlight = 0;

  const write = async (batch: Pending[]) => {
    const keyOf = (p: Pending) => `${p.broker}\u0000${p.attributes.source}\u0000${p.attributes.id}\u0000${replayOf(p.attributes)}`;
    const first = new Map<string, Pending>();
    for (const p of batch) if (!first.has(keyOf(p))) first.set(keyOf(p), p);
    const unique = [...first.values()];
    // Deliveries the dispatcher has room for are stored claimed, with its lease (attempts 1).
    const reservation = handoff?.reserve(unique.reduce((n, p) => n + p.fanout.length, 0));
    let room = reservation?.size ?? 0;
    const input = unique.map((p) => ({
      broker: p.broker,
      id: p.attributes.id,
      source: p.attributes.source,
      type: p.attributes.type,
      replay: replayOf(p.attributes),
      attributes: p.attributes,
      data: p.data === undefined ? null : Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('base64'),
      fanout: p.fanout.map((f) => ({ ...f, claimed: room-- > 0 })),
    }));
    const durable = batch.some((p) => p.durable);
    let rows: { broker: string; source: string; id: string; replay: string; delivery: string | number | null; trigger: string | null }[];
    try {
      rows = await database.query(sql`
        with input as (
          select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
            as x(broker text, id text, source text, type text, replay text, attributes jsonb, data text, fanout jsonb)
        ), e as (
          insert into eventing.events (broker, id, source, type, replay, attributes, data)
          select broker, id, source, type, replay, attributes, decode(data, 'base64') from input
          where ${durable ? sql`true` : sql.raw(NO_SYNC_COMMIT)}
          on conflict (broker, source, id, replay) do nothing
          returning seq, broker, source, id, replay
        ), d as (
          insert into eventing.deliveries (event_seq, trigger, subscriber, attempts, next_attempt_at)
          select e.seq, t.trigger, t.subscriber, case when t.claimed then 1 else 0 end,
            case when t.claimed then now() + ${handoff?.leaseMs ?? 0} * interval '1 millisecond' else now() end
          from e join input i on i.broker = e.broker and i.source = e.source and i.id = e.id and i.replay = e.replay
          cross join lateral jsonb_to_recordset(i.fanout) as t(trigger text, subscriber text, claimed boolean)
          returning seq, event_seq, trigger, attempts
        )
        select e.broker, e.source, e.id, e.replay, d.seq as delivery, d.trigger${opts.onStored ? sql`` : sql`, pg_notify(${BROKER_CHANNEL}, e.broker) as notified`}
        from e left join d on d.event_seq = e.seq and d.attempts = 1`);
    } catch (err) {
      reservation?.deliver([]);
      throw err;
    }
    const rowKey = (r: (typeof rows)[number]) => `${r.broker}\u0000${r.source}\u0000${r.id}\u0000${r.replay}`;
    const stored = new Set(rows.map(rowKey));
    let handedCount = 0;
    if (reservation) {
      const handed: HandedDelivery[] = [];
      for (const r of rows) {
        if (r.delivery === null || r.trigger === null) continue;
        const p = first.get(rowKey(r))!;
        const subscriber = p.fanout.find((f) => f.trigger === r.trigger)!.subscriber;
        handed.push({ seq: r.delivery, trigger: r.trigger, subscriber, attempts: 1, attributes: p.attributes, data: p.data ?? null });
      }
      handedCount = handed.length;
      reservation.deliver(handed);
    }
    // Deliveries stored unclaimed (no room, or no handoff) are for the dispatcher's claim loop.
    const storedDeliveries = [...stored].reduce((n, key) => n + first.get(key)!.fanout.length, 0);
    if (opts.onStored && storedDeliveries > handedCount) for (const b of new Set(rows.map((r) => r.broker))) opts.onStored(b);
    for (const p of batch) {
      const key = keyOf(p);
      const isFirst = first.get(key) === p;
      p.resolve(isFirst && stored.has(key) ? { duplicate: false, deliveries: p.fanout.length } : { duplicate: true, deliveries: 0 });
    }
  };

  // One event the statement refused (one the parser let through but the database will not
  // store) must not fail the others: the batch is written again one event per statement, so
  // only the bad one is answered with an error. A database outage fails each of them anyway.
  const isolate = async (batch: Pending[]) => {
    for (const p of batch) {
      await write([p]).catch((err: unknown) => p.reject(err));
    }
  };

  const pump = () => {
    while (inFlight < maxInFlight && queue.length > 0) {
      // Bounded by count and by bytes: one statement never carries more than ~4 MiB of data.
      let n = 0;
      let bytes = 0;
      while (n < queue.length && n < maxBatch && (n === 0 || bytes + (queue[n]!.data?.byteLength ?? 0) <= MAX_BATCH_BYTES)) {
        bytes += queue[n]!.data?.byteLength ?? 0;
        n++;
      }
      const batch = queue.splice(0, n);
      inFlight++;
      write(batch)
        .catch((err: unknown) => (batch.length > 1 ? isolate(batch) : batch[0]!.reject(err)))
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };

  return (broker, attributes, data, callOpts) =>
    new Promise<Accepted>((resolve, reject) => {
      const fanout = triggers
        .filter((t) => t.broker === broker && matchesTrigger(t, attributes))
        .map((t) => ({ trigger: t.name, subscriber: t.subscriber }));
      queue.push({ broker, attributes, data, fanout, durable: callOpts?.durable ?? true, resolve, reject });
      pump();
    });
}
