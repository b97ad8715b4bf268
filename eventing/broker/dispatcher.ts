// The Broker's dispatcher: claims due deliveries with a lease, sends each to its Trigger's
// subscriber with no transaction open, then deletes it, schedules a retry with the Trigger's
// backoff, or moves it to the dead letters once `delivery.retry` is exhausted.
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { retryDelayMs } from '#shared/events/backoff';
import type { WireEvent } from '#shared/events/cloudevent';
import { createAckBatcher, createInflight, pipelineControls } from '#shared/events/inflight';
import { startLeaseKeeper } from '#shared/events/lease';
import { createEventSender, type EventSender, type SendResult } from '#shared/events/sender';
import { NO_SYNC_COMMIT, startWorkLoop } from '#shared/events/work-loop';
import type { Logger } from '#shared/log/index';
import { BROKER_CHANNEL, type DeliveryHandoff, type HandedDelivery } from './accept.js';
import type { Trigger } from './triggers.js';

export interface DispatcherOptions {
  database: Database;
  triggers: readonly Trigger[];
  log: Logger;
  batchSize?: number;
  concurrency?: number;
  /**
   * How long a claimed delivery stays hidden (default 10 s), renewed every third of it while the
   * delivery is in flight: a crashed dispatcher's deliveries are claimed again after one lease.
   */
  leaseMs?: number;
  idleMs?: number;
  lanes?: number;
  sender?: EventSender;
  /** Accepted events with nothing pending are kept this long for dedupe and inspection (default 1 day). */
  retentionMs?: number;
}

export interface Dispatcher {
  /** New deliveries were committed (by the ingress in this process): claim them now. */
  wake(): void;
  /** Takes deliveries the acceptor of this process stored already claimed (see DeliveryHandoff). */
  readonly handoff: DeliveryHandoff;
  /** Delivers everything due now; resolves to the number acknowledged. */
  flush(): Promise<number>;
  stop(): Promise<void>;
}

interface ClaimedDelivery extends Record<string, unknown> {
  seq: string | number;
  trigger: string;
  subscriber: string;
  attempts: number;
  attributes: Record<string, string> | string;
  data: Uint8Array | null;
}

/** Next step for a failed attempt, by Knative rules: retry while allowed, otherwise dead-letter. */
export function nextStep(trigger: Trigger | undefined, attempts: number, result: SendResult): { retryInMs: number } | { dead: true } {
  if (!trigger || !result.retryable || attempts > trigger.retry) return { dead: true };
  return { retryInMs: retryDelayMs(trigger.backoffPolicy, trigger.backoffDelayMs, attempts) };
}

export async function startDispatcher(opts: DispatcherOptions): Promise<Dispatcher> {
  const { database } = opts;
  const log = opts.log.child({ component: 'broker-dispatcher' });
  const byName = new Map(opts.triggers.map((t) => [t.name, t]));
  const batch = opts.batchSize ?? 200;
  const leaseMs = opts.leaseMs ?? 10_000;
  const ownSender = !opts.sender;
  const sender = opts.sender ?? createEventSender();
  const retentionMs = opts.retentionMs ?? 86_400_000;
  let lastPrune = 0;

  const deadLetter = async (row: ClaimedDelivery | HandedDelivery, event: WireEvent, trigger: Trigger | undefined, result: SendResult) => {
    const keep = trigger?.deadLetter ?? true;
    const sink = trigger?.deadLetterSink;
    log.warn('event delivery failed for good', {
      event_id: event.attributes.id, trigger: row.trigger, attempts: row.attempts, status: result.status, error: result.error, dead_letter: keep,
    });
    if (!keep) {
      await database.query(sql`delete from eventing.deliveries where seq = ${row.seq}`);
      return;
    }
    const rows = await database.query<{ seq: string | number }>(sql`
      with d as (delete from eventing.deliveries where seq = ${row.seq} returning event_seq, trigger, subscriber, attempts)
      insert into eventing.dead_letters (event_seq, trigger, subscriber, attempts, last_status, last_error, sink)
      select event_seq, trigger, subscriber, attempts, ${result.status ?? null}, ${result.error ?? null}, ${sink ?? null} from d
      returning seq`);
    if (!sink || !rows[0]) return;
    // Knative adds these extensions when it dead-letters an event.
    const forwarded = await sender.send(sink, event, {
      'ce-knativeerrordest': row.subscriber,
      ...(result.status ? { 'ce-knativeerrorcode': String(result.status) } : {}),
      ...(result.error ? { 'ce-knativeerrordata': Buffer.from(result.error).toString('base64') } : {}),
    });
    if (forwarded.ok) await database.query(sql`update eventing.dead_letters set forwarded_at = now() where seq = ${rows[0].seq}`);
    else log.error('dead-letter sink refused the event', { event_id: event.attributes.id, sink, error: forwarded.error });
  };

  const prune = async () => {
    if (Date.now() - lastPrune < 600_000) return;
    lastPrune = Date.now();
    await database.query(sql`
      delete from eventing.events e where e.received_at < now() - ${retentionMs} * interval '1 millisecond'
        and not exists (select 1 from eventing.deliveries d where d.event_seq = e.seq)
        and not exists (select 1 from eventing.dead_letters x where x.event_seq = e.seq)`);
  };

  const concurrency = opts.concurrency ?? 64;
  const inflight = createInflight(concurrency, log);
  // Handed deliveries have a cap of their own: the claim loop's budget stays its own, and a
  // delivery with no room is stored unclaimed for that loop instead.
  const handedInflight = createInflight(concurrency, log);
  const leases = startLeaseKeeper({
    leaseMs,
    log,
    renew: async (seqs) => {
      await database.query(sql`update eventing.deliveries set next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
        where seq = any(${`{${seqs.join(',')}}`}::bigint[]) and ${sql.raw(NO_SYNC_COMMIT)}`);
    },
  });
  const acks = createAckBatcher(async (seqs) => {
    await database.query(sql`delete from eventing.deliveries where seq = any(${`{${seqs.join(',')}}`}::bigint[]) and ${sql.raw(NO_SYNC_COMMIT)}`);
  }, log);
  let delivered = 0;

  const deliverOne = async (row: ClaimedDelivery | HandedDelivery) => {
    const event: WireEvent = {
      attributes: typeof row.attributes === 'string' ? (JSON.parse(row.attributes) as Record<string, string>) : row.attributes,
      data: row.data ?? undefined,
    };
    const seq = String(row.seq);
    leases.hold(seq);
    let result: SendResult;
    try {
      result = await sender.send(row.subscriber, event);
    } finally {
      await leases.release(seq);
    }
    if (result.ok) {
      delivered++;
      acks.ack(String(row.seq));
      return;
    }
    const trigger = byName.get(row.trigger);
    const step = nextStep(trigger, row.attempts, result);
    if ('dead' in step) {
      await deadLetter(row, event, trigger, result);
      return;
    }
    log.info('event delivery will be retried', { event_id: event.attributes.id, trigger: row.trigger, attempts: row.attempts, error: result.error, retry_in_ms: step.retryInMs });
    await database.query(sql`
      update eventing.deliveries set next_attempt_at = now() + ${step.retryInMs} * interval '1 millisecond',
        last_status = ${result.status ?? null}, last_error = ${result.error ?? null}
      where seq = ${row.seq} and ${sql.raw(NO_SYNC_COMMIT)}`);
    loop.wakeIn(step.retryInMs);
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
    let rows: ClaimedDelivery[];
    try {
      rows = await database.query<ClaimedDelivery>(sql`
        with ${gone.length > 0 ? sql`gone as (delete from eventing.deliveries where seq = any(${goneSeqs}::bigint[]) and ${sql.raw(NO_SYNC_COMMIT)}), ` : sql``}c as (
          update eventing.deliveries set attempts = attempts + 1, next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
          where seq in (select seq from eventing.deliveries where next_attempt_at <= now()
                          ${gone.length > 0 ? sql`and seq <> all(${goneSeqs}::bigint[])` : sql``}
                        order by next_attempt_at, seq limit ${want} for update skip locked)
            and ${sql.raw(NO_SYNC_COMMIT)}
          returning seq, event_seq, trigger, subscriber, attempts
        )
        select c.seq, c.trigger, c.subscriber, c.attempts, e.attributes, e.data
        from c join eventing.events e on e.seq = c.event_seq`);
    } catch (err) {
      room.release();
      for (const seq of gone) acks.ack(seq);
      throw err;
    }
    for (const row of rows) room.run(() => deliverOne(row));
    room.release();
    if (rows.length === 0) {
      await prune();
      return { claimed: 0, delivered: 0, more: false };
    }
    return { claimed: rows.length, delivered: 0, more: rows.length === want };
  };

  const loop = startWorkLoop({ name: 'broker dispatcher', cycle, log, lanes: opts.lanes, idleMs: opts.idleMs });
  const unlisten = await database.listen(BROKER_CHANNEL, () => loop.wake());
  loop.wake();
  let stopping = false;
  let stopped = false;
  const handoff: DeliveryHandoff = {
    leaseMs,
    reserve(n) {
      const room = handedInflight.tryReserve(stopping ? 0 : n);
      return {
        size: room.size,
        deliver(deliveries) {
          // After stop, a late commit's deliveries stay leased: claimed again once the lease expires.
          if (!stopped) for (const row of deliveries) room.run(() => deliverOne(row));
          room.release();
        },
      };
    },
  };
  const controls = pipelineControls({
    loop,
    inflight: {
      idle: async () => {
        await inflight.idle();
        await handedInflight.idle();
      },
    },
    acks,
    delivered: () => delivered,
    unlisten,
    close: async () => {
      await leases.stop();
      if (ownSender) await sender.close();
    },
  });
  return {
    wake: () => loop.wake(),
    handoff,
    flush: controls.flush,
    async stop() {
      stopping = true;
      await controls.stop();
      stopped = true;
    },
  };
}
