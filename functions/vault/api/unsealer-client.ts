// The api's side of the internal channel: signed calls to the unsealer for DEKs and the audit
// key. The api never holds the root key or a KEK; the DEKs it receives live for one request.
// Calls go over a keep-alive connection pool (undici), not a fresh connection per request.
// Behind a Service the unsealer may be several replicas, some sealed (a new pod during a rollout
// waits sealed while the old one serves): a "sealed" answer or a lost connection is retried on a
// fresh connection, which the Service may send to another replica. Every internal call is safe to
// repeat: unwrap and audit-key read, and a DEK minted for a lost answer is simply never stored.
import { createSecretKey } from 'node:crypto';
import { Client, Pool, type Dispatcher } from 'undici';
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { VaultError } from '#functions/vault/core/errors';
import { createRowMac, IntegrityError, type RowMac } from '#functions/vault/core/integrity';
import type { DekService } from '#functions/vault/core/kv';

export interface UnsealerClient extends DekService {
  /**
   * Opens several wrapped DEKs of one mount, in order, in one round trip per
   * UNWRAP_BATCH_CHUNK keys (a transit batch needs one per key version it touches).
   */
  unwrapDeks(mount: string, items: readonly { context: string; wrapped: Buffer }[]): Promise<Buffer[]>;
  /** The audit HMAC key; fails with 503 while sealed. Cached for `auditKeyTtlMs`. */
  auditKey(): Promise<Buffer>;
  /**
   * The row-MAC signer and checker (core/integrity.ts), from the unsealer's row-MAC key; fails
   * with 503 while sealed. Cached like the audit key and dropped when the unsealer answers sealed.
   */
  rowMac(fresh?: boolean): Promise<RowMac>;
  /** A fresh DEK (and its wrapped form) for a wrapped response, under the `cubbyhole/` mount's KEK. */
  newWrappingDek(context: string): Promise<{ dek: Buffer; wrapped: Buffer }>;
  /** Creates an engine's mount (and its KEK) if it does not exist yet; idempotent. */
  ensureMount(mount: string): Promise<void>;
  /** Closes the pooled connections. */
  close(): Promise<void>;
}

interface UnsealerClientOptions {
  /** Base URL of the unsealer, e.g. http://vault-unsealer.zenokube.svc or http://127.0.0.1:8080/_fn/vault-unsealer. */
  url: string;
  key: Buffer;
  /** How long the api trusts "unsealed" without asking again (default 1 s). */
  auditKeyTtlMs?: number;
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

/** One exchange with some replica: its status and body, or the transport failure. */
type Exchange = { status: number; answer: string } | { failure: unknown };

export function createUnsealerClient(opts: UnsealerClientOptions): UnsealerClient {
  const base = new URL(opts.url.replace(/\/+$/, ''));
  const prefix = base.pathname.replace(/\/$/, '');
  const pool = opts.dispatcher ?? new Pool(base.origin, { connections: opts.connections ?? 16, pipelining: 1 });
  // Imported once: no key parsing per signature.
  const key = createSecretKey(opts.key);
  const ttl = opts.auditKeyTtlMs ?? 1000;
  let cached: { key: Buffer; until: number } | undefined;
  let macCached: { mac: RowMac; until: number } | undefined;
  let macFetch: Promise<RowMac> | undefined;

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
      if (status === 503) {
        cached = undefined;
        macCached = undefined;
      }
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

  return {
    async unwrapDek(mount, context, wrapped) {
      const r = await call<{ dek: string }>('/internal/v1/dek/unwrap', { mount, context, wrapped: wrapped.toString('base64') });
      return Buffer.from(r.dek, 'base64');
    },
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
      const r = await call<{ dek: string; wrapped: string }>('/internal/v1/dek/new', { mount, context });
      return { dek: Buffer.from(r.dek, 'base64'), wrapped: Buffer.from(r.wrapped, 'base64') };
    },
    async newWrappingDek(context) {
      const r = await call<{ dek: string; wrapped: string }>('/internal/v1/wrapping/dek/new', { context });
      return { dek: Buffer.from(r.dek, 'base64'), wrapped: Buffer.from(r.wrapped, 'base64') };
    },
    async auditKey() {
      const now = Date.now();
      if (cached && cached.until > now) return cached.key;
      const r = await call<{ key: string }>('/internal/v1/audit-key', {});
      cached = { key: Buffer.from(r.key, 'base64'), until: now + ttl };
      return cached.key;
    },
    async rowMac(fresh = false) {
      const now = Date.now();
      if (!fresh && macCached && macCached.until > now) return macCached.mac;
      // One fetch at a time: the requests that find the cache expired together share it.
      macFetch ??= (async () => {
        try {
          const r = await call<{ key: string; epoch?: number }>('/internal/v1/row-mac-key', {});
          const key = Buffer.from(r.key, 'base64');
          macCached = { mac: createRowMac(key, opts.onIntegrityFailure, typeof r.epoch === 'number' ? r.epoch : 0), until: Date.now() + ttl };
          key.fill(0);
          return macCached.mac;
        } finally {
          macFetch = undefined;
        }
      })();
      return macFetch;
    },
    async ensureMount(mount) {
      await call<{ mount: string }>('/internal/v1/mounts/ensure', { mount });
    },
    close: () => (opts.dispatcher ? Promise.resolve() : pool.close()),
  };
}

/** A replica that is sealed (or shutting down) answers 503; one that is gone fails the exchange. */
function retryable(e: Exchange): boolean {
  return 'failure' in e || e.status === 503;
}
