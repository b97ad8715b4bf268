// A wake-driven work loop: each wake-up (NOTIFY, timer, explicit) runs claim-deliver-settle
// cycles in up to `lanes` concurrent lanes until nothing is due; a slow timer is the fallback.
import type { Logger } from '#shared/log/index';

interface CycleResult {
  /** Rows claimed by this cycle (0 = nothing due). */
  claimed: number;
  /** Rows delivered (acknowledged) by this cycle. */
  delivered: number;
  /** True when the batch was full: more may be due right now. */
  more: boolean;
  /** Milliseconds until the earliest retry this cycle scheduled, if any. */
  nextDueMs?: number | undefined;
}

interface WorkLoop {
  /** Asks for a cycle soon; cheap to call often. */
  wake(): void;
  /** Asks for a cycle in `ms` (a retry that comes due then). */
  wakeIn(ms: number): void;
  /**
   * Work is about to become visible (a transaction that wrote it has not committed yet):
   * poll soon and then less and less often until `hintWindowMs` has passed since the last hint.
   */
  hint(): void;
  /** Runs cycles until nothing is due; resolves to the number of rows delivered meanwhile (by any lane). */
  drain(): Promise<number>;
  /** Stops waking; resolves once in-flight cycles have settled. */
  stop(): Promise<void>;
}

interface WorkLoopOptions {
  name: string;
  cycle: () => Promise<CycleResult>;
  log: Logger;
  /** Concurrent lanes (default 2: more lanes meant smaller batches and more CPU per event). */
  lanes?: number;
  /** Fallback poll interval (default 5 s): catches lease expiries and missed notifications. */
  idleMs?: number;
  /** First poll after a hint (default 2 ms); each further poll waits twice as long, up to 64 ms. */
  hintIntervalMs?: number;
  /** How long after the last hint polling continues (default 2 s). */
  hintWindowMs?: number;
}

export function startWorkLoop(opts: WorkLoopOptions): WorkLoop {
  const maxLanes = opts.lanes ?? 2;
  const idleMs = opts.idleMs ?? 5_000;
  const running = new Set<Promise<void>>();
  let pending = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let failures = 0;
  let deliveredTotal = 0;

  const schedule = (ms: number) => {
    if (stopped) return;
    const at = Date.now() + Math.max(0, ms);
    if (timer && at >= timerAt) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      wake();
      schedule(idleMs);
    }, Math.max(0, ms));
    timer.unref();
  };

  const runCycle = async (): Promise<CycleResult | undefined> => {
    try {
      const result = await opts.cycle();
      failures = 0;
      deliveredTotal += result.delivered;
      if (result.nextDueMs !== undefined) schedule(result.nextDueMs);
      return result;
    } catch (err) {
      failures++;
      opts.log.error(`${opts.name} cycle failed`, { err, failures });
      schedule(Math.min(30_000, 100 * 2 ** Math.min(failures, 9)));
      return undefined;
    }
  };

  const lane = async () => {
    while (!stopped) {
      pending = false;
      const result = await runCycle();
      if (!result) return;
      if (!result.more && !pending) return;
    }
  };

  function wake(): void {
    if (stopped) return;
    pending = true;
    if (running.size >= maxLanes) return;
    const p: Promise<void> = lane().finally(() => running.delete(p));
    running.add(p);
  }

  // After a hint, poll at 2 ms, then 4, 8, … up to 64 ms, for `hintWindowMs` after the last hint:
  // a commit that takes long (a slow disk) is still seen soon, and an idle relay stops polling.
  const hintInterval = opts.hintIntervalMs ?? 2;
  const hintWindow = opts.hintWindowMs ?? 2_000;
  let lastHint = 0;
  let hintDelay = hintInterval;
  let hintTimer: NodeJS.Timeout | undefined;
  const hintTick = () => {
    hintTimer = undefined;
    if (stopped) return;
    wake();
    if (performance.now() - lastHint < hintWindow) {
      hintDelay = Math.min(64, hintDelay * 2);
      hintTimer = setTimeout(hintTick, hintDelay);
      hintTimer.unref();
    }
  };

  schedule(0);
  return {
    wake,
    wakeIn: (ms: number) => schedule(ms),
    hint() {
      lastHint = performance.now();
      if (stopped) return;
      if (hintTimer && hintDelay === hintInterval) return;
      if (hintTimer) clearTimeout(hintTimer);
      hintDelay = hintInterval;
      hintTimer = setTimeout(hintTick, hintDelay);
      hintTimer.unref();
    },
    async drain() {
      const before = deliveredTotal;
      for (;;) {
        const result = await runCycle();
        if (!result) throw new Error(`${opts.name}: cycle failed while draining`);
        if (result.claimed === 0) break;
      }
      await Promise.all([...running]);
      return deliveredTotal - before;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (hintTimer) clearTimeout(hintTimer);
      await Promise.all([...running]);
    },
  };
}

/**
 * A one-time filter that turns off the WAL flush wait for the statement's own implicit
 * transaction (`set_config(..., is_local => true)`). For claims, deletes and reschedules only:
 * losing one to a server crash means a redelivery, which receivers dedupe; never for a write
 * that an acknowledgement depends on.
 * @see https://www.postgresql.org/docs/current/wal-async-commit.html
 */
export const NO_SYNC_COMMIT = `(select set_config('synchronous_commit', 'off', true)) is not null`;
