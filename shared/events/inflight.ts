// Pipelining helpers for the relay and the dispatcher: a cap on deliveries in flight (claims
// continue while earlier deliveries are pending), and a batcher that turns many acknowledgements
// into one delete.
import type { Logger } from '#shared/log/index';

interface Inflight {
  /** Free slots now. */
  free(): number;
  /** Resolves once at least one slot is free. */
  slot(): Promise<void>;
  /** Starts `task` in a slot (the caller checked `free()`); its failure is logged, never thrown. */
  run(task: () => Promise<void>): void;
  /** Resolves once nothing is in flight. */
  idle(): Promise<void>;
}

export function createInflight(limit: number, log: Logger): Inflight {
  const running = new Set<Promise<void>>();
  let waiters: (() => void)[] = [];
  return {
    free: () => limit - running.size,
    slot: () => (running.size < limit ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    run(task) {
      const p: Promise<void> = task()
        .catch((err: unknown) => log.error('delivery task failed', { err }))
        .finally(() => {
          running.delete(p);
          const ready = waiters;
          waiters = [];
          for (const w of ready) w();
        });
      running.add(p);
    },
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
