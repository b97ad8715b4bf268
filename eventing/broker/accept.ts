// Group commit for the broker ingress: events arriving while a write is in flight are stored
// together in the next single statement (one commit for many events), each request still
// answered only after the commit that holds its event.
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { NO_SYNC_COMMIT } from '#shared/events/work-loop';
import { matchesTrigger, type Trigger } from './triggers.js';

const MAX_BATCH_BYTES = 4 * 1024 * 1024;

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

export interface AcceptorOptions {
  /** Most events per statement (default 256). */
  maxBatch?: number;
  /** Statements in flight at once (default 2). */
  maxInFlight?: number;
  /**
   * Called after each commit that created deliveries. When set, no NOTIFY is sent: the
   * dispatcher in this process is woken directly (NOTIFY serialises notifying commits).
   */
  onStored?: (broker: string) => void;
}

/** Creates the function that stores an event and its fan-out, batching concurrent callers. */
export function createEventAcceptor(database: Database, triggers: readonly Trigger[], opts: AcceptorOptions = {}): AcceptEvent {
  const maxBatch = opts.maxBatch ?? 256;
  const maxInFlight = opts.maxInFlight ?? 2;
  const queue: Pending[] = [];
  let inFlight = 0;

  const write = async (batch: Pending[]) => {
    const keyOf = (p: Pending) => `${p.broker}\u0000${p.attributes.source}\u0000${p.attributes.id}`;
    const first = new Map<string, Pending>();
    for (const p of batch) if (!first.has(keyOf(p))) first.set(keyOf(p), p);
    const unique = [...first.values()];
    const input = unique.map((p) => ({
      broker: p.broker,
      id: p.attributes.id,
      source: p.attributes.source,
      type: p.attributes.type,
      attributes: p.attributes,
      data: p.data === undefined ? null : Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('base64'),
      fanout: p.fanout,
    }));
    const durable = batch.some((p) => p.durable);
    const rows = await database.query<{ broker: string; source: string; id: string }>(sql`
      with input as (
        select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
          as x(broker text, id text, source text, type text, attributes jsonb, data text, fanout jsonb)
      ), e as (
        insert into eventing.events (broker, id, source, type, attributes, data)
        select broker, id, source, type, attributes, decode(data, 'base64') from input
        where ${durable ? sql`true` : sql.raw(NO_SYNC_COMMIT)}
        on conflict (broker, source, id) do nothing
        returning seq, broker, source, id
      ), d as (
        insert into eventing.deliveries (event_seq, trigger, subscriber)
        select e.seq, t.trigger, t.subscriber
        from e join input i on i.broker = e.broker and i.source = e.source and i.id = e.id
        cross join lateral jsonb_to_recordset(i.fanout) as t(trigger text, subscriber text)
        returning event_seq
      )
      select e.broker, e.source, e.id${opts.onStored ? sql`` : sql`, pg_notify(${BROKER_CHANNEL}, e.broker) as notified`} from e`);
    if (opts.onStored && rows.length > 0) for (const b of new Set(rows.map((r) => r.broker))) opts.onStored(b);
    const stored = new Set(rows.map((r) => `${r.broker}\u0000${r.source}\u0000${r.id}`));
    for (const p of batch) {
      const key = keyOf(p);
      const isFirst = first.get(key) === p;
      p.resolve(isFirst && stored.has(key) ? { duplicate: false, deliveries: p.fanout.length } : { duplicate: true, deliveries: 0 });
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
        .catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        })
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
