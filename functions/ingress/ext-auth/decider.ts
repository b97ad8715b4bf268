// ExtAuthFilter decisions with two caches.
// L1: the decision per filter and credential, keyed by SHA-256 of the forwarded credential
//     headers (never the credential itself; in http mode also method, host and path, which the
//     auth service sees), short TTL (spec.cacheTTL, default 10 s), bounded
//     size (spec.cacheSize, default 10,000). Only allow / 401 / 403 are cached, never 5xx.
// L2: verification material shared by filters: introspection answers per token hash (until the
//     token's exp or the TTL) and JWKS key sets (jose's remote set: 10 min max age).
// Concurrent requests with the same credential share one call to the auth service.
import { createHash } from 'node:crypto';
import type { ExtAuthAction } from '../engine/table.js';
import type { AuthRequest, ExtAuthDecider, ExtAuthDecision } from '../proxy/ext-auth.js';
import { parseDuration } from '../engine/duration.js';
import { createTtlCache } from './ttl-cache.js';
import type { TtlCache } from './ttl-cache.js';
import { bearer, checkHttp, checkIntrospection, checkJwt, deny } from './verifiers.js';
import type { Introspection } from './verifiers.js';

const DEFAULT_FORWARD = ['authorization', 'cookie'];

interface ExtAuthOptions {
  now?: () => number;
}

export function createExtAuth(opts: ExtAuthOptions = {}): ExtAuthDecider {
  const l1 = new Map<string, TtlCache<ExtAuthDecision>>();
  const l2 = createTtlCache<Introspection>(50_000, opts.now);
  const inflight = new Map<string, Promise<ExtAuthDecision>>();

  return async (action: ExtAuthAction, req: AuthRequest) => {
    const spec = action.spec;
    const ttlMs = parseDuration(spec.cacheTTL) ?? 10_000;
    const timeoutMs = parseDuration(spec.timeout) ?? 2_000;
    let cache = l1.get(action.key);
    if (!cache) l1.set(action.key, (cache = createTtlCache<ExtAuthDecision>(spec.cacheSize ?? 10_000, opts.now)));
    const names = (spec.forwardRequestHeaders ?? DEFAULT_FORWARD).map((n) => n.toLowerCase());
    const forwarded: [string, string][] = [];
    const hash = createHash('sha256').update(action.key);
    for (const n of names) {
      const v = req.headers[n];
      const value = Array.isArray(v) ? v.join(', ') : v;
      if (value === undefined) continue;
      forwarded.push([n, value]);
      hash.update(`\u0000${n}\u0000${value}`);
    }
    // The HTTP auth service sees the method, host and path, so its answer may depend on them.
    if ((spec.mode ?? 'http') === 'http') hash.update(`\u0000${req.method}\u0000${req.headers.host ?? ''}\u0000${req.url ?? ''}`);
    const key = hash.digest('base64url');
    const hit = cache.get(key);
    if (hit) return hit;
    const running = inflight.get(key);
    if (running) return running;
    const token = bearer(req.headers.authorization);
    const tokenHash = token ? createHash('sha256').update(token).digest('base64url') : '';
    const work = (async (): Promise<ExtAuthDecision> => {
      try {
        const mode = spec.mode ?? 'http';
        if (mode === 'introspection') return await checkIntrospection(spec, action.clientSecret, token, tokenHash, l2, ttlMs, timeoutMs);
        if (mode === 'jwt') return await checkJwt(spec, token);
        return await checkHttp(spec, forwarded, timeoutMs, { method: req.method ?? 'GET', path: req.url ?? '/', host: req.headers.host ?? '' });
      } catch {
        // Fail closed: an auth service that cannot answer never lets a request through.
        return deny(503);
      }
    })();
    inflight.set(key, work);
    try {
      const d = await work;
      if (d.allow || d.status === 401 || d.status === 403) cache.set(key, d, ttlMs);
      return d;
    } finally {
      inflight.delete(key);
    }
  };
}
