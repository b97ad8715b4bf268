// Writers of one KV path in this process, one at a time and in arrival order. A writer that waits
// here holds no database connection: only the writer at the head of a path's queue opens a
// transaction, so concurrent writes to one path take one pooled connection per process, not one
// each, and cannot starve the pool. Across processes the advisory lock in ./kv.ts serialises them.
import { VaultError } from './errors.js';

/** Most writers one path may have waiting in this process; beyond it a write answers 503. */
export const MAX_QUEUED_WRITERS = 1000;

export interface WriteQueue {
  /**
   * Runs `write` once every writer of `key` that came before it is done. `write` is told whether
   * it waited (what it read before then may be stale).
   */
  run<T>(key: string, write: (waited: boolean) => Promise<T>): Promise<T>;
  /** Writers queued or running on `key` (0 when none). */
  depth(key: string): number;
}

export function createWriteQueue(limit = MAX_QUEUED_WRITERS): WriteQueue {
  /** Per key: the promise the next writer waits for, and how many are queued or running. */
  const tails = new Map<string, { tail: Promise<void>; depth: number }>();
  return {
    async run(key, write) {
      const entry = tails.get(key);
      if (entry && entry.depth > limit) {
        throw new VaultError(503, 'write_queue_full', ['too many writers are waiting on this path; retry the request'], { headers: { 'retry-after': '1' } });
      }
      const previous = entry?.tail;
      let done!: () => void;
      const mine = new Promise<void>((resolve) => (done = resolve));
      const state = entry ?? { tail: mine, depth: 0 };
      state.tail = mine;
      state.depth++;
      if (!entry) tails.set(key, state);
      try {
        if (previous) await previous;
        return await write(previous !== undefined);
      } finally {
        state.depth--;
        if (state.depth === 0) tails.delete(key);
        done();
      }
    },
    depth: (key) => tails.get(key)?.depth ?? 0,
  };
}
