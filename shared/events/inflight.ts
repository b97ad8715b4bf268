// Pipelining helpers for the relay and the dispatcher: a cap on deliveries in flight (claims
// continue while earlier deliveries are pending), and a batcher that turns many acknowledgements
// into one delete.
import type { Logger } from '#shared/log/index';

/**
 * Room for deliveries, taken before a claim is sent and given back for rows it did not return.
 * Two claim lanes each hold their own reservation, so their LIMITs never add up past the cap
 * (reading the free count before a claim lands let two lanes over-claim, and the next cycle
 * computed a negative LIMIT that PostgreSQL refused).
 */
interface Reservation {
  /** Slots reserved (0 from `tryReserve` when full). */
  readonly size: number;
  /** Starts `task` in one reserved slot; its failure is logged, never thrown. */
  run(task: () => Promise<void>): void;
  /** Gives back the reserved slots no task took. Idempotent. */
  release(): void;
}

interface Inflight {
  /** Resolves once at least one slot is free, with up to `max` slots reserved (at least 1). */
  reserve(max: number): Promise<Reservation>;
  /** Reserves up to `max` slots now; a reservation of size 0 when none is free. */
  tryReserve(max: number): Reservation;
  /** Slots taken: running plus reserved. Never above the limit. */
  used(): number;
  /** Resolves once nothing is in flight. */
  idle(): Promise<void>;
}

export function createInflight(limit: number, log: Logger): Inflight {
  if (!(Number.isInteger(limit) && limit > 0)) throw new TypeError(`in-flight limit must be a positive integer, got ${limit}`);
  const running = new Set<Promise<void>>();
  // Slots held: running tasks plus reservations not yet used or released.
  let used = 0;
  const waiters: (() => void)[] = [];
  // One waiter per free slot: a woken waiter re-checks, so a wake-up never over-commits.
  const wakeOne = () => {
    if (used < limit) waiters.shift()?.();
  };
  const take = (max: number): Reservation => {
    const size = Math.max(0, Math.min(Math.floor(max), limit - used));
    used += size;
    let left = size;
    return {
      size,
      run(task) {
        if (left <= 0) throw new TypeError('no reserved slot left for this task');
        left--;
        const p: Promise<void> = task()
          .catch((err: unknown) => log.error('delivery task failed', { err }))
          .finally(() => {
            running.delete(p);
            used--;
            wakeOne();
          });
        running.add(p);
      },
      release() {
        if (left === 0) return;
        used -= left;
        left = 0;
        wakeOne();
      },
    };
  };
  return {
    async reserve(max) {
      if (!(max >= 1)) throw new TypeError(`a reservation needs at least one slot, asked for ${max}`);
      while (used >= limit) await new Promise<void>((r) => waiters.push(r));
      const r = take(max);
      // Room left over (this reservation wanted less than was free): pass the wake-up on.
      wakeOne();
      return r;
    },
    tryReserve: take,
    used: () => used,
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

interface AckBatcher {
  /** Queues one row's deletion; rows acknowledged close together go in one statement. */
  ack(seq: string): void;
  /**
   * Hands the queued deletions to the caller, who deletes them within its next statement (the
   * claim): a busy loop then writes no separate deletes. A caller whose statement failed gives
   * them back with `ack` (or loses them: a lost delete only means a redelivery).
   */
  take(): string[];
  /** Resolves once every queued deletion has been written. */
  flush(): Promise<void>;
}

interface AckBatcherOptions {
  /** How long acknowledgements wait for a claim to carry them before their own delete (default 20 ms). */
  delayMs?: number;
  /** Queued acknowledgements that trigger a delete at once (default 500). */
  maxBatch?: number;
}

/** Acknowledged rows are deleted off the critical path: their lease keeps them from being claimed again meanwhile. */
export function createAckBatcher(write: (seqs: string[]) => Promise<void>, log: Logger, opts: AckBatcherOptions = {}): AckBatcher {
  const delayMs = opts.delayMs ?? 20;
  const maxBatch = opts.maxBatch ?? 500;
  let pending: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const writing = new Set<Promise<void>>();
  const take = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const seqs = pending;
    pending = [];
    return seqs;
  };
  const drain = () => {
    const seqs = take();
    if (seqs.length === 0) return;
    const p: Promise<void> = write(seqs)
      // A lost delete only means a redelivery, which receivers dedupe.
      .catch((err: unknown) => log.error('could not delete delivered rows (they will be redelivered)', { err }))
      .finally(() => writing.delete(p));
    writing.add(p);
  };
  return {
    ack(seq) {
      pending.push(seq);
      if (pending.length >= maxBatch) drain();
      else if (!timer) timer = setTimeout(drain, delayMs);
    },
    take,
    async flush() {
      drain();
      while (writing.size > 0) await Promise.all([...writing]);
    },
  };
}

/** What a claim-deliver-acknowledge pipeline (the relay, the broker dispatcher) is made of. */
interface PipelineParts {
  loop: { drain(): Promise<number>; stop(): Promise<void> };
  inflight: Pick<Inflight, 'idle'>;
  acks: AckBatcher;
  /** Deliveries acknowledged so far. */
  delivered: () => number;
  unlisten: () => Promise<void>;
  /** Closes what the pipeline owns (its sender), after everything settled. */
  close: () => Promise<void>;
}

/**
 * The shared lifecycle of a pipeline: `flush` drains what is due and waits for its deliveries
 * and their acknowledgements; `stop` (idempotent) stops claiming, lets in-flight deliveries
 * finish, writes the last acknowledgements and closes.
 */
export function pipelineControls(parts: PipelineParts): { flush(): Promise<number>; stop(): Promise<void> } {
  let stopped = false;
  return {
    async flush() {
      const before = parts.delivered();
      await parts.loop.drain();
      await parts.inflight.idle();
      await parts.acks.flush();
      return parts.delivered() - before;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await parts.unlisten();
      await parts.loop.stop();
      await parts.inflight.idle();
      await parts.acks.flush();
      await parts.close();
    },
  };
}
