// The api's side of the internal channel: signed calls to the unsealer for DEKs and the audit
// key. The api never holds the root key or a KEK; the DEKs it receives live for one request.
// Calls go over a keep-alive connection pool (undici), not a fresh connection per request.
import { createSecretKey } from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { VaultError } from '#functions/vault/core/errors';
import type { DekService } from '#functions/vault/core/kv';

class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

export interface UnsealerClient extends DekService {
  /** The audit HMAC key; fails with 503 while sealed. Cached for `auditKeyTtlMs`. */
  auditKey(): Promise<Buffer>;
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
  /** For tests: where requests go instead of a pool to `url`. */
  dispatcher?: Dispatcher;
}

export function createUnsealerClient(opts: UnsealerClientOptions): UnsealerClient {
  const base = new URL(opts.url.replace(/\/+$/, ''));
  const prefix = base.pathname.replace(/\/$/, '');
  const pool = opts.dispatcher ?? new Pool(base.origin, { connections: opts.connections ?? 16, pipelining: 1 });
  // Imported once: no key parsing per signature.
  const key = createSecretKey(opts.key);
  const ttl = opts.auditKeyTtlMs ?? 1000;
  let cached: { key: Buffer; until: number } | undefined;

  const call = async <T>(path: string, body: unknown): Promise<T> => {
    const text = JSON.stringify(body);
    let status: number;
    let answer: string;
    try {
      const res = await pool.request({
        origin: base.origin,
        path: prefix + path,
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signRequest(key, 'POST', path, text) },
        body: text,
      });
      status = res.statusCode;
      answer = await res.body.text();
    } catch (err) {
      throw new VaultError(503, 'unsealer_unreachable', ['the unsealer is unreachable'], { cause: err });
    }
    let parsed: T & { errors?: string[] };
    try {
      parsed = JSON.parse(answer) as T & { errors?: string[] };
    } catch {
      parsed = {} as T & { errors?: string[] };
    }
    if (status < 200 || status > 299) {
      if (status === 503) cached = undefined;
      // A wrapped DEK that does not open is storage tampering or a moved row: a server-side
      // integrity failure (500, logged), never the client's fault.
      if (status === 400 && path === '/internal/v1/dek/unwrap') throw new IntegrityError('a wrapped DEK does not authenticate in its row');
      const messages = Array.isArray(parsed.errors) ? parsed.errors : [`unsealer answered ${status}`];
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
    async newDek(mount, context) {
      const r = await call<{ dek: string; wrapped: string }>('/internal/v1/dek/new', { mount, context });
      return { dek: Buffer.from(r.dek, 'base64'), wrapped: Buffer.from(r.wrapped, 'base64') };
    },
    async auditKey() {
      const now = Date.now();
      if (cached && cached.until > now) return cached.key;
      const r = await call<{ key: string }>('/internal/v1/audit-key', {});
      cached = { key: Buffer.from(r.key, 'base64'), until: now + ttl };
      return cached.key;
    },
    close: () => (opts.dispatcher ? Promise.resolve() : pool.close()),
  };
}
