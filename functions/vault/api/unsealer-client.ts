// The api's side of the internal channel: signed calls to the unsealer for DEKs and the audit
// key. The api never holds the root key or a KEK; the DEKs it receives live for one request.
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { VaultError } from '#functions/vault/core/errors';
import type { DekService } from '#functions/vault/core/kv';

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

export interface UnsealerClient extends DekService {
  /** The audit HMAC key; fails with 503 while sealed. Cached for `auditKeyTtlMs`. */
  auditKey(): Promise<Buffer>;
}

export interface UnsealerClientOptions {
  /** Base URL of the unsealer, e.g. http://vault-unsealer.zenokube.svc or http://127.0.0.1:8080/_fn/vault-unsealer. */
  url: string;
  key: Buffer;
  /** How long the api trusts "unsealed" without asking again (default 1 s). */
  auditKeyTtlMs?: number;
  fetch?: typeof fetch;
}

export function createUnsealerClient(opts: UnsealerClientOptions): UnsealerClient {
  const base = new URL(opts.url.replace(/\/+$/, ''));
  const doFetch = opts.fetch ?? fetch;
  const ttl = opts.auditKeyTtlMs ?? 1000;
  let cached: { key: Buffer; until: number } | undefined;

  const call = async <T>(path: string, body: unknown): Promise<T> => {
    const url = new URL(base.pathname.replace(/\/$/, '') + path, base);
    const text = JSON.stringify(body);
    let res: Response;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signRequest(opts.key, 'POST', path, text) },
        body: text,
      });
    } catch (err) {
      throw new VaultError(503, 'unsealer_unreachable', ['the unsealer is unreachable'], { cause: err });
    }
    const parsed = (await res.json().catch(() => ({}))) as T & { errors?: string[] };
    if (!res.ok) {
      if (res.status === 503) cached = undefined;
      // A wrapped DEK that does not open is storage tampering or a moved row: a server-side
      // integrity failure (500, logged), never the client's fault.
      if (res.status === 400 && path === '/internal/v1/dek/unwrap') throw new IntegrityError('a wrapped DEK does not authenticate in its row');
      const messages = Array.isArray(parsed.errors) ? parsed.errors : [`unsealer answered ${res.status}`];
      // Internal authentication failures are our misconfiguration, not the client's.
      const status = res.status === 401 ? 500 : res.status;
      throw new VaultError(status, 'unsealer_error', status === 500 ? ['internal error'] : messages);
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
  };
}
