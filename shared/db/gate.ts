// Admission to the pool's connections: one permit per connection, taken by a statement outside a
// transaction for its run and by a transaction for its whole life. A caller that cannot get one
// within the deadline leaves the queue and fails with a retryable error, so no request waits
// forever on a pool that transactions hold; the gate also knows how long a full pool has gone
// without handing a permit back, which is what /readyz and /healthz report.
import { DatabaseUnavailableError } from './errors.js';

/** The pool as readiness and liveness see it. */
export interface PoolHealth {
  /** Permits (connections) in all. */
  readonly size: number;
  readonly inUse: number;
  /** Callers waiting for a permit. */
  readonly waiting: number;
  /** How long every permit has been held with none handed back (0 while one is free). */
  readonly stalledMs: number;
}

interface Waiter {
  grant(): void;
  fail(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface ConnectionGate {
  /**
   * Takes a permit without waiting when one is free: true if taken (the caller must `release()`).
   * The hot path: no promise when the pool has room.
   */
  tryAcquire(): boolean;
  /** Takes a permit, waiting at most the deadline; rejects with `db_pool_timeout` (or `db_closed`). */
  acquire(): Promise<void>;
  release(): void;
  /** Runs `work` holding a permit, released when its promise settles. */
  run<T>(work: () => PromiseLike<T>): Promise<T>;
  health(): PoolHealth;
  /** Refuses every waiter and every later caller with `db_closed`. */
  close(): void;
}

/** A gate of `size` permits whose waiters give up after `waitMs`. */
export function createConnectionGate(size: number, waitMs: number): ConnectionGate {
  if (!Number.isInteger(size) || size < 1) throw new TypeError(`pool size must be a positive integer, got ${size}`);
  let inUse = 0;
  let closed = false;
  const waiters: Waiter[] = [];
  // When a permit was last taken or handed back: a full pool has stalled since then.
  let progressAt = performance.now();

  const closedError = () => new DatabaseUnavailableError('db_closed', 'the database connection pool is closing');

  const release = () => {
    progressAt = performance.now();
    const next = waiters.shift();
    if (next) {
      clearTimeout(next.timer);
      next.grant();
    } else {
      inUse--;
    }
  };

  const tryAcquire = () => {
    if (closed || inUse >= size) return false;
    inUse++;
    progressAt = performance.now();
    return true;
  };

  const acquire = (): Promise<void> => {
    if (tryAcquire()) return Promise.resolve();
    if (closed) return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        fail: reject,
        timer: setTimeout(() => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          reject(
            new DatabaseUnavailableError('db_pool_timeout', `no database connection was free within ${waitMs} ms (${size} in use, ${waiters.length} more waiting)`),
          );
        }, waitMs),
      };
      waiters.push(waiter);
    });
  };

  const run = async <T>(work: () => PromiseLike<T>): Promise<T> => {
    if (!tryAcquire()) await acquire();
    try {
      return await work();
    } finally {
      release();
    }
  };

  return {
    tryAcquire,
    acquire,
    release,
    run,
    health: () => ({
      size,
      inUse,
      waiting: waiters.length,
      stalledMs: inUse >= size ? Math.max(0, performance.now() - progressAt) : 0,
    }),
    close() {
      closed = true;
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.fail(closedError());
      }
    },
  };
}
