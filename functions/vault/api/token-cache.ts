// Token lookups reused for a short while: most requests come from a few tokens, and the lookup
// (the token and its ancestors, one recursive query) is a database round trip per request.
//
// Correct under revocation within a stated bound:
// - a token revoked, renewed or changed through this api process is forgotten at once (the
//   pipeline empties the cache after every successful change under auth/token/ or sys/policies/);
// - a token revoked through another replica fails here within `ttlMs` of its revocation;
// - a use-limited token is never kept: each use goes to the database and spends one use;
// - no entry outlives its token's expiry, and every entry goes when the vault seals.
// Only the SHA-256 of a token is kept as the key, never the token.
import { createHash } from 'node:crypto';
import type { Token } from '#functions/vault/core/schema';

interface TokenCacheOptions {
  /** How long a lookup is reused (ms); 0 turns the cache off. */
  ttlMs: number;
  /** Most tokens kept (default 10,000); the oldest leave first. */
  maxEntries?: number;
}

export interface TokenCache {
  /**
   * The live token row for `token`, as its caller presents it: from the cache, else `peek`ed (no
   * use spent); a token without a use limit is kept, a use-limited one is `use`d (one use spent)
   * and never kept. A token's use limit never changes, so a token peeked unlimited stays so.
   */
  get(token: string, lookup: { peek: () => Promise<Token | undefined>; use: () => Promise<Token | undefined> }): Promise<Token | undefined>;
  /** Forgets every token. */
  clear(): void;
  readonly size: number;
}

export function createTokenCache(opts: TokenCacheOptions): TokenCache {
  const max = opts.maxEntries ?? 10_000;
  const entries = new Map<string, { row: Token; until: number }>();
  /** Bumped by clear(): a lookup that started before it is not kept. */
  let era = 0;

  return {
    async get(token, { peek, use }) {
      if (opts.ttlMs <= 0) return use();
      const key = createHash('sha256').update(token, 'utf8').digest('base64');
      const now = Date.now();
      const hit = entries.get(key);
      if (hit) {
        if (hit.until > now) return hit.row;
        entries.delete(key);
      }
      const started = era;
      const row = await peek();
      if (!row) return undefined;
      if (row.numUses !== 0) return use();
      if (started === era) {
        const expires = row.expiresAt ? row.expiresAt.getTime() : Infinity;
        const until = Math.min(now + opts.ttlMs, expires);
        if (until > Date.now()) {
          if (entries.size >= max) entries.delete(entries.keys().next().value as string);
          entries.set(key, { row, until });
        }
      }
      return row;
    },
    clear() {
      era++;
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
