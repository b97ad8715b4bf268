// A size-bounded cache with per-entry expiry: the oldest entry goes first when full.

export interface TtlCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V, ttlMs: number): void;
  readonly size: number;
}

export function createTtlCache<V>(maxEntries: number, now: () => number = Date.now): TtlCache<V> {
  const map = new Map<string, { value: V; expires: number }>();
  return {
    get(key) {
      const e = map.get(key);
      if (!e) return undefined;
      if (e.expires <= now()) {
        map.delete(key);
        return undefined;
      }
      return e.value;
    },
    set(key, value, ttlMs) {
      if (ttlMs <= 0) return;
      map.delete(key);
      map.set(key, { value, expires: now() + ttlMs });
      while (map.size > maxEntries) map.delete(map.keys().next().value as string);
    },
    get size() {
      return map.size;
    },
  };
}
