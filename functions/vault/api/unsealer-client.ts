// The api's side of the internal channel: signed calls to the unsealer for DEKs, an audit line
// key and the row-MAC key. The api never holds the root key, a KEK or the audit key.
// Calls go over a keep-alive connection pool (undici), not a fresh connection per request.
// Behind a Service the unsealer may be several replicas, some sealed (a new pod during a rollout
// waits sealed while the old one serves): a "sealed" answer or a lost connection is retried on a
// fresh connection, which the Service may send to another replica. Every internal call is safe to
// repeat: unwrap, line-key and status reads, and a DEK minted for a lost answer is never stored.
//
// What the api learns from the unsealer is kept for one *generation*: the seal epoch read from the
// database before the first key of the generation was asked for, the audit line key, the row-MAC
// key and the unwrapped DEKs (bounded in count and bytes, least recently used first out, zeroed
// when they leave). A generation ends, every key in it zeroed, when the unsealer answers sealed
// (asked at most every `checkMs`, and on every 503 of another call) or when an audit write finds
// the seal epoch moved (pipeline.ts): `sys/seal` moves it before it answers.
import { createSecretKey } from 'node:crypto';
import { Client, Pool, type Dispatcher } from 'undici';
import type { AuditKey } from '#functions/vault/core/audit';
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { sealedError, VaultError } from '#functions/vault/core/errors';
import { createRowMac, createRowSeqMemory, IntegrityError, type RowMac } from '#functions/vault/core/integrity';
import type { DekService } from '#functions/vault/core/kv';

/** What a request needs before it is audited: the generation's seal epoch and audit line key. */
export interface AuditState {
  epoch: number;
  key: AuditKey;
  /** False once its generation has ended (its key is zeroed then: ask for a new state). */
  live(): boolean;
}

export interface UnsealerClient extends DekService {
  /**
   * Opens several wrapped DEKs of one mount, in order, in one round trip per
   * UNWRAP_BATCH_CHUNK keys (a transit batch needs one per key version it touches); not cached.
   */
  unwrapDeks(mount: string, items: readonly { context: string; wrapped: Buffer }[]): Promise<Buffer[]>;
  /**
   * The seal epoch and audit line key of the current generation; confirms with the unsealer that
   * it is unsealed at most every `checkMs` (one call shared by concurrent requests). 503 while sealed.
   */
  auditState(): Promise<AuditState>;
  /**
   * The row-MAC signer and checker (core/integrity.ts), from the unsealer's row-MAC key; fails
   * with 503 while sealed. Kept for the generation.
   */
  rowMac(fresh?: boolean): Promise<RowMac>;
  /** A fresh DEK (and its wrapped form) for a wrapped response, under the `cubbyhole/` mount's KEK. */
  newWrappingDek(context: string): Promise<{ dek: Buffer; wrapped: Buffer }>;
  /** Creates an engine's mount (and its KEK) if it does not exist yet; idempotent. */
  ensureMount(mount: string): Promise<void>;
  /**
   * Ends the generation: every cached key is zeroed and forgotten (a seal was seen). Given the
   * state a failure was seen with, only if that state's generation is still the current one.
   */
  flush(seenWith?: AuditState): void;
  /** Hears of every flush (the token cache empties itself). */
  onFlush(listener: () => void): void;
  /** The DEK cache's counters, for metrics and tests. */
  dekCacheStats(): { hits: number; misses: number; entries: number; bytes: number; evictions: number };
  /** Closes the pooled connections and zeroes the caches. */
  close(): Promise<void>;
}

interface UnsealerClientOptions {
  /** Base URL of the unsealer, e.g. http://vault-unsealer.zenokube.svc or http://127.0.0.1:8080/_fn/vault-unsealer. */
  url: string;
  key: Buffer;
  /** The seal epoch the database holds now (undefined: not initialized). */
  sealEpoch: () => Promise<number | undefined>;
  /** How long the api trusts "unsealed" without asking again (default 1 s). */
  checkMs?: number;
  /** Most DEKs kept (default 10,000). */
  dekCacheEntries?: number;
  /** Most bytes of DEKs and their keys kept (default 4 MiB). */
  dekCacheBytes?: number;
  /** Connections kept to the unsealer (default 16). */
  connections?: number;
  /** Tries of one call while replicas answer "sealed" or cannot be reached (default 5). */
  attempts?: number;
  /** Hears of every row that fails its integrity check (the table's name). */
  onIntegrityFailure?: (table: string) => void;
  /** For tests: where requests go instead of a pool to `url`. */
  dispatcher?: Dispatcher;
}

/** Keys per /dek/unwrap-batch call (the unsealer's bound). */
const UNWRAP_BATCH_CHUNK = 200;

/** Unwrapped DEKs by (mount, context, wrapped bytes): least recently used out first, zeroed on the way. */
class DekCache {
  private readonly map = new Map<string, Buffer>();
  private size = 0;
  hits = 0;
  misses = 0;
  evictions = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  constructor(maxEntries: number, maxBytes: number) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
  }

  static keyOf(mount: string, context: string, wrapped: Buffer): string {
    return `${JSON.stringify([mount, context])}${wrapped.toString('base64')}`;
  }

  private static cost(k: string, dek: Buffer): number {
    return k.length * 2 + dek.length + 64;
  }

  /** A copy of the DEK (the caller zeroes it after use), or undefined. */
  get(k: string): Buffer | undefined {
    const dek = this.map.get(k);
    if (!dek) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(k);
    this.map.set(k, dek);
    return Buffer.from(dek);
  }

  /** Keeps a copy of `dek`. */
  set(k: string, dek: Buffer): void {
    if (this.maxEntries <= 0 || DekCache.cost(k, dek) > this.maxBytes || this.map.has(k)) return;
    const copy = Buffer.alloc(dek.length);
    dek.copy(copy);
    this.map.set(k, copy);
    this.size += DekCache.cost(k, copy);
    while (this.map.size > this.maxEntries || this.size > this.maxBytes) {
      const [oldest, old] = this.map.entries().next().value as [string, Buffer];
      this.map.delete(oldest);
      this.size -= DekCache.cost(oldest, old);
      old.fill(0);
      this.evictions++;
    }
  }

  clear(): void {
    for (const dek of this.map.values()) dek.fill(0);
    this.map.clear();
    this.size = 0;
  }

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.size;
  }
}

interface Generation {
  epoch: number;
  /** Until when "unsealed" holds without asking. */
  checkedUntil: number;
  auditKey?: Promise<AuditKey>;
  mac?: Promise<RowMac>;
  /** When `mac` was asked for: the unsealer checks the keyring epoch at each fetch. */
  macAt?: number;
  deks: DekCache;
  dead: boolean;
}

/** One exchange with some replica: its status and body, or the transport failure. */
type Exchange = { status: number; answer: string } | { failure: unknown };

export function createUnsealerClient(opts: UnsealerClientOptions): UnsealerClient {
  const base = new URL(opts.url.replace(/\/+$/, ''));
  const prefix = base.pathname.replace(/\/$/, '');
  const pool = opts.dispatcher ?? new Pool(base.origin, { connections: opts.connections ?? 16, pipelining: 1 });
  // Imported once: no key parsing per signature.
  const key = createSecretKey(opts.key);
  const checkMs = opts.checkMs ?? 1000;
  const dekEntries = opts.dekCacheEntries ?? 10_000;
  const dekBytes = opts.dekCacheBytes ?? 4 * 1024 * 1024;
  const listeners: (() => void)[] = [];
  let gen: Generation | undefined;
  /** The generation being started or re-checked (one call to the unsealer for every request waiting). */
  let checking: Promise<Generation> | undefined;
  const totals = { hits: 0, misses: 0, evictions: 0 };

  const flush = (seenWith?: AuditState): void => {
    if (seenWith && !seenWith.live()) return;
    const g = gen;
    gen = undefined;
    if (g) {
      g.dead = true;
      totals.hits += g.deks.hits;
      totals.misses += g.deks.misses;
      totals.evictions += g.deks.evictions;
      g.deks.clear();
      void g.auditKey?.then((k) => k.key.fill(0), () => {});
    }
    for (const l of listeners) l();
  };

  const attempts = Math.max(1, opts.attempts ?? 5);

  const exchange = async (dispatcher: Dispatcher, path: string, text: string): Promise<Exchange> => {
    try {
      const res = await dispatcher.request({
        origin: base.origin,
        path: prefix + path,
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signRequest(key, 'POST', path, text) },
        body: text,
      });
      return { status: res.statusCode, answer: await res.body.text() };
    } catch (failure) {
      return { failure };
    }
  };

  /**
   * The first try goes over the pool; each retry over a connection of its own (closed after), so
   * that it is balanced afresh rather than queued behind the pool's connection to the same replica.
   * A sealed unsealer answers with `Connection: close`, so the pool drops its way to that replica.
   */
  const exchangeWithRetry = async (path: string, text: string): Promise<Exchange> => {
    let last = await exchange(pool, path, text);
    for (let i = 1; i < attempts && retryable(last); i++) {
      // A jittered pause, growing with the try: retries of concurrent calls do not open their
      // connections in step, so a balancer's turns cannot keep sending one of them to the same
      // sealed replica.
      await new Promise((r) => setTimeout(r, Math.random() * 5 * i));
      const fresh = opts.dispatcher ?? new Client(base.origin, { pipelining: 1 });
      try {
        last = await exchange(fresh, path, text);
      } finally {
        if (!opts.dispatcher) await fresh.close().catch(() => {});
      }
    }
    return last;
  };

  const call = async <T>(path: string, body: unknown): Promise<T> => {
    const text = JSON.stringify(body);
    const result = await exchangeWithRetry(path, text);
    if ('failure' in result) throw new VaultError(503, 'unsealer_unreachable', ['the unsealer is unreachable'], { cause: result.failure });
    const { status, answer } = result;
    let parsed: T & { errors?: string[] };
    try {
      parsed = JSON.parse(answer) as T & { errors?: string[] };
    } catch {
      parsed = {} as T & { errors?: string[] };
    }
    if (status < 200 || status > 299) {
      if (status === 503) flush();
      // A wrapped DEK that does not open is storage tampering or a moved row: refused (403),
      // counted and logged like any row that fails its integrity check.
      if (status === 400 && (path === '/internal/v1/dek/unwrap' || path === '/internal/v1/dek/unwrap-batch')) {
        const table = (body as { context?: string }).context?.startsWith('kv/') ? 'kv_versions' : 'transit_keys';
        opts.onIntegrityFailure?.(table);
        throw new IntegrityError(table);
      }
      const messages = Array.isArray(parsed.errors) ? parsed.errors : [`unsealer answered ${status}`];
      // A row the unsealer refused (a mount, the epoch): the same refusal here (counted there).
      if (status === 403 && messages[0] === 'integrity check failed') {
        throw new IntegrityError(path === '/internal/v1/row-mac-key' ? 'integrity_state' : 'mounts');
      }
      // Internal authentication failures are our misconfiguration, not the client's.
      const code = status === 401 ? 500 : status;
      throw new VaultError(code, 'unsealer_error', code === 500 ? ['internal error'] : messages);
    }
    return parsed;
  };

  /** The current generation, confirmed unsealed within `checkMs`; a new one after a flush. */
  const current = (): Promise<Generation> => {
    const g = gen;
    if (g && g.checkedUntil > Date.now()) return Promise.resolve(g);
    checking ??= (async () => {
      try {
        // The epoch is read before any key of the generation is asked for: a seal that lands
        // in between moves it, and the first audit write of the generation fails.
        let next = gen;
        if (!next) {
          const epoch = await opts.sealEpoch();
          if (epoch === undefined) throw sealedError();
          next = { epoch, checkedUntil: 0, deks: new DekCache(dekEntries, dekBytes), dead: false };
        }
        // 503 from every replica tried (call() then flushes) while sealed.
        await call<{ sealed: false }>('/internal/v1/unsealed', {});
        if (next.dead) throw sealedError();
        next.checkedUntil = Date.now() + checkMs;
        gen = next;
        return next;
      } catch (err) {
        // Sealed, unreachable or no storage: nothing learnt from the unsealer is used any more.
        flush();
        throw err;
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  };

  const fetchAuditKey = async (g: Generation): Promise<AuditKey> => {
    const r = await call<{ key: string; id: string }>('/internal/v1/audit-line-key', {});
    const k = { key: Buffer.from(r.key, 'base64'), id: r.id };
    if (g.dead) {
      k.key.fill(0);
      throw sealedError();
    }
    return k;
  };

  /** The rollback bound of rows with a seq: one memory for this process, across generations. */
  const rowSeqs = createRowSeqMemory();
  const fetchRowMac = async (g: Generation): Promise<RowMac> => {
    const r = await call<{ key: string; epoch?: number }>('/internal/v1/row-mac-key', {});
    const k = Buffer.from(r.key, 'base64');
    try {
      if (g.dead) throw sealedError();
      return createRowMac(k, opts.onIntegrityFailure, typeof r.epoch === 'number' ? r.epoch : 0, rowSeqs);
    } finally {
      k.fill(0);
    }
  };

  /** A promise kept for the generation unless it fails (then the next caller asks again). */
  const once = <T>(g: Generation, slot: 'auditKey' | 'mac', make: (g: Generation) => Promise<T>): Promise<T> => {
    const existing = g[slot] as Promise<T> | undefined;
    if (existing) return existing;
    const p = make(g);
    (g as unknown as Record<string, Promise<T> | undefined>)[slot] = p;
    p.catch(() => {
      if (g[slot] === (p as unknown)) g[slot] = undefined;
    });
    return p;
  };

  return {
    async unwrapDek(mount, context, wrapped) {
      const g = await current();
      const k = DekCache.keyOf(mount, context, wrapped);
      const hit = g.deks.get(k);
      if (hit) return hit;
      const r = await call<{ dek: string }>('/internal/v1/dek/unwrap', { mount, context, wrapped: wrapped.toString('base64') });
      const dek = Buffer.from(r.dek, 'base64');
      if (!g.dead) g.deks.set(k, dek);
      return dek;
    },
    // Not through the DEK cache: a transit batch is one round trip already, and its keys are
    // the transit key versions, not secrets' DEKs.
    async unwrapDeks(mount, items) {
      const out: Buffer[] = [];
      for (let i = 0; i < items.length; i += UNWRAP_BATCH_CHUNK) {
        const chunk = items.slice(i, i + UNWRAP_BATCH_CHUNK);
        const r = await call<{ deks?: unknown }>('/internal/v1/dek/unwrap-batch', {
          mount,
          items: chunk.map((it) => ({ context: it.context, wrapped: it.wrapped.toString('base64') })),
        });
        if (!Array.isArray(r.deks) || r.deks.length !== chunk.length || r.deks.some((d) => typeof d !== 'string')) {
          throw new VaultError(500, 'unsealer_error', ['internal error']);
        }
        for (const d of r.deks as string[]) out.push(Buffer.from(d, 'base64'));
      }
      return out;
    },
    async newDek(mount, context) {
      const g = await current();
      const r = await call<{ dek: string; wrapped: string }>('/internal/v1/dek/new', { mount, context });
      const out = { dek: Buffer.from(r.dek, 'base64'), wrapped: Buffer.from(r.wrapped, 'base64') };
      // The version written with it is usually read next.
      if (!g.dead) g.deks.set(DekCache.keyOf(mount, context, out.wrapped), out.dek);
      return out;
    },
    async newWrappingDek(context) {
      const r = await call<{ dek: string; wrapped: string }>('/internal/v1/wrapping/dek/new', { context });
      return { dek: Buffer.from(r.dek, 'base64'), wrapped: Buffer.from(r.wrapped, 'base64') };
    },
    async auditState() {
      const g = await current();
      const key = await once(g, 'auditKey', fetchAuditKey);
      return { epoch: g.epoch, key, live: () => !g.dead && gen === g };
    },
    async rowMac(fresh = false) {
      const g = await current();
      // A row from a later keyring epoch than this key knows: ask once more (another replica
      // unsealed). And at least every checkMs: the unsealer checks the keyring epoch at each
      // fetch, so a database put back under a running vault is refused within that bound.
      const now = Date.now();
      if (fresh || (g.macAt !== undefined && now - g.macAt > checkMs)) g.mac = undefined;
      if (!g.mac) g.macAt = now;
      return once(g, 'mac', fetchRowMac);
    },
    flush: (seenWith) => flush(seenWith),
    onFlush(listener) {
      listeners.push(listener);
    },
    dekCacheStats() {
      const d = gen?.deks;
      return {
        hits: totals.hits + (d?.hits ?? 0),
        misses: totals.misses + (d?.misses ?? 0),
        evictions: totals.evictions + (d?.evictions ?? 0),
        entries: d?.entries ?? 0,
        bytes: d?.bytes ?? 0,
      };
    },
    close: async () => {
      flush();
      if (!opts.dispatcher) await pool.close();
    },
    async ensureMount(mount) {
      await call<{ mount: string }>('/internal/v1/mounts/ensure', { mount });
    },
  };
}

/** A replica that is sealed (or shutting down) answers 503; one that is gone fails the exchange. */
function retryable(e: Exchange): boolean {
  return 'failure' in e || e.status === 503;
}
