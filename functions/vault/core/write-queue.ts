// Writers of one KV path in this process, one at a time and in arrival order. A writer that waits
// here holds no database connection: only the writer at the head of a path's queue opens a
// transaction, so concurrent writes to one path take one pooled connection per process, not one
// each, and cannot starve the pool. Across processes the advisory lock in ./kv.ts serialises them.
import { VaultError } from './errors.js';

/** Most writers one path may have waiting in this process; beyond it a write answers 503. */
const MAX_QUEUED_WRITERS = 1000;

/** How a writer's turn came: after waiting or not, and what the writer just before it wrote. */
interface Turn<T> {
  /** It waited for another writer: what it read before then may be stale. */
  waited: boolean;
  /** The result of the writer just before it, when that one succeeded and ended in this turn's wait. */
  previous: T | undefined;
}

interface WriteQueue<T> {
  /** Runs `write` once every writer of `key` that came before it is done. */
  run(key: string, write: (turn: Turn<T>) => Promise<T>): Promise<T>;
  /** Writers queued or running on `key` (0 when none). */
  depth(key: string): number;
}

export function createWriteQueue<T>(limit = MAX_QUEUED_WRITERS): WriteQueue<T> {
  /** Per key: the promise the next writer waits for (the result of the last one), and how many are queued or running. */
  const tails = new Map<string, { tail: Promise<T | undefined>; depth: number }>();
  return {
    async run(key, write) {
      const entry = tails.get(key);
      if (entry && entry.depth > limit) {
        throw new VaultError(503, 'write_queue_full', ['too many writers are waiting on this path; retry the request'], { headers: { 'retry-after': '1' } });
      }
      const before = entry?.tail;
      let done!: (result: T | undefined) => void;
      const mine = new Promise<T | undefined>((resolve) => (done = resolve));
      const state = entry ?? { tail: mine, depth: 0 };
      state.tail = mine;
      state.depth++;
      if (!entry) tails.set(key, state);
      let result: T | undefined;
      try {
        const previous = before ? await before : undefined;
        result = await write({ waited: before !== undefined, previous });
        return result;
      } finally {
        state.depth--;
        if (state.depth === 0) tails.delete(key);
        done(result);
      }
    },
    depth: (key) => tails.get(key)?.depth ?? 0,
  };
}
