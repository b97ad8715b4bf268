// Short leases, renewed while the work is in flight. A claim hides a row for `leaseMs`; while
// the delivery is still running a heartbeat pushes the lease out again, so a slow recipient is
// never handed the same row twice, and a crashed worker's rows come back after one short lease
// instead of a lease sized for the slowest delivery.
import type { Logger } from '#shared/log/index';

interface LeaseKeeper {
  /** A claimed row is being worked on: renew its lease until `release`. */
  hold(seq: string): void;
  /**
   * Stops renewing the row's lease. Resolves once a renewal already sent has landed, so the
   * caller's next write to the row (a rescheduled retry) is not overwritten by it.
   */
  release(seq: string): Promise<void>;
  /** Rows held now. */
  held(): number;
  stop(): Promise<void>;
}

interface LeaseKeeperOptions {
  leaseMs: number;
  /** Pushes the lease of these rows to now + leaseMs (one statement). */
  renew: (seqs: string[]) => Promise<void>;
  log: Logger;
  /** Renewal period (default a third of the lease: two renewals may fail before it runs out). */
  intervalMs?: number;
}

export function startLeaseKeeper(opts: LeaseKeeperOptions): LeaseKeeper {
  if (!(opts.leaseMs > 0)) throw new TypeError(`leaseMs must be positive, got ${opts.leaseMs}`);
  const intervalMs = opts.intervalMs ?? Math.max(1, Math.floor(opts.leaseMs / 3));
  const held = new Set<string>();
  let renewing: Promise<void> | undefined;
  const beat = () => {
    if (held.size === 0 || renewing) return;
    renewing = opts
      .renew([...held])
      // A lost renewal only risks a second delivery after the lease, which receivers dedupe.
      .catch((err: unknown) => opts.log.error('could not renew leases (rows may be delivered twice)', { err, rows: held.size }))
      .finally(() => {
        renewing = undefined;
      });
  };
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return {
    hold: (seq) => void held.add(seq),
    async release(seq) {
      held.delete(seq);
      if (renewing) await renewing;
    },
    held: () => held.size,
    async stop() {
      clearInterval(timer);
      if (renewing) await renewing;
    },
  };
}
