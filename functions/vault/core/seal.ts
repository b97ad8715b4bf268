// Seals: what protects the root key at rest when no human brings key shares. `shamir` keeps it
// nowhere (shares only); `transit` stores it wrapped by another vault's transit key and unwraps
// it at start (auto-unseal). Cloud KMS seals plug in behind the same interface.
// @see https://developer.hashicorp.com/vault/docs/configuration/seal/transit
import type { Logger } from '#shared/log/index';
import { invalidRequest, VaultError } from './errors.js';

/** Wraps and unwraps the root key with a key held elsewhere. */
export interface SealWrapper {
  readonly type: string;
  wrap(rootKey: Buffer): Promise<string>;
  unwrap(blob: string): Promise<Buffer>;
  /** Keeps the seal's credential alive (the transit token renewed at half its TTL). */
  keepAlive?(log: Logger, opts?: RenewalOptions): { stop(): void };
}

export interface RenewalOptions {
  /** First retry delay after a failed renewal (doubles up to `maxBackoffMs`). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface SealSettings {
  type: 'shamir' | 'transit' | 'awskms' | 'azurekeyvault' | 'gcpckms';
  transit?: { address: string; token: string; keyName: string; mount: string };
}

/**
 * Reads the seal stanza from the unsealer's declared env. Cloud KMS seals are the seam: the
 * names are recognised and refused at boot until an implementation of SealWrapper is added
 * (AWS KMS Encrypt/Decrypt, Azure Key Vault wrapKey/unwrapKey, GCP KMS encrypt/decrypt).
 */
export function sealSettingsFrom(env: Readonly<Record<string, string | undefined>>): SealSettings {
  const type = env.VAULT_SEAL_TYPE ?? 'shamir';
  if (type === 'shamir') return { type };
  if (type === 'transit') {
    const address = env.VAULT_SEAL_TRANSIT_ADDRESS;
    const token = env.VAULT_SEAL_TRANSIT_TOKEN;
    const keyName = env.VAULT_SEAL_TRANSIT_KEY;
    if (!address || !token || !keyName) {
      throw new TypeError('a transit seal needs VAULT_SEAL_TRANSIT_ADDRESS, VAULT_SEAL_TRANSIT_TOKEN and VAULT_SEAL_TRANSIT_KEY');
    }
    return { type, transit: { address: address.replace(/\/+$/, ''), token, keyName, mount: (env.VAULT_SEAL_TRANSIT_MOUNT ?? 'transit').replace(/^\/+|\/+$/g, '') } };
  }
  if (type === 'awskms' || type === 'azurekeyvault' || type === 'gcpckms') {
    throw new TypeError(`seal type "${type}" is not implemented yet: implement SealWrapper in functions/vault/core/seal.ts`);
  }
  throw new TypeError(`unknown seal type "${type}"`);
}

/** Auto-unseal through another ZenoVault (or HashiCorp Vault) transit key. */
function transitSeal(t: NonNullable<SealSettings['transit']>, doFetch: typeof fetch = fetch): SealWrapper {
  const call = async (op: 'encrypt' | 'decrypt', body: Record<string, string>): Promise<Record<string, string>> => {
    let res: Response;
    try {
      res = await doFetch(`${t.address}/v1/${t.mount}/${op}/${encodeURIComponent(t.keyName)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vault-token': t.token },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new VaultError(503, 'seal_unreachable', ['the transit seal is unreachable'], { cause: err });
    }
    const parsed = (await res.json().catch(() => ({}))) as { data?: Record<string, string>; errors?: string[] };
    if (!res.ok || !parsed.data) {
      throw new VaultError(503, 'seal_failed', [`the transit seal answered ${res.status}`]);
    }
    return parsed.data;
  };
  /** A token call (lookup-self / renew-self) on the transit vault: its JSON, or an error with the status. */
  const tokenCall = async (
    path: string,
    method: 'GET' | 'POST',
  ): Promise<{ data?: Record<string, unknown>; auth?: Record<string, unknown>; warnings?: unknown }> => {
    const res = await doFetch(`${t.address}/v1/auth/token/${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-vault-token': t.token },
      ...(method === 'POST' ? { body: '{}' } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const parsed = (await res.json().catch(() => ({}))) as { data?: Record<string, unknown>; auth?: Record<string, unknown>; warnings?: unknown };
    if (!res.ok) throw new Error(`the transit vault answered ${res.status} to ${path}`);
    return parsed;
  };

  /**
   * Renews the transit token at half its remaining TTL (`renew-self`), with exponential
   * backoff on failure; a token that does not expire needs nothing, a non-renewable one or one
   * that reached its max TTL is logged with the time it expires (auto-unseal fails after it).
   * The token itself is never logged.
   */
  const keepAlive = (log: Logger, opts: RenewalOptions = {}) => {
    const minBackoff = opts.minBackoffMs ?? 1000;
    const maxBackoff = opts.maxBackoffMs ?? 60_000;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;
    let expiresAt = 0;
    /** The TTL a renewal grants (the token's creation TTL); less means the max TTL caps it. */
    let period = 0;
    // At most a day ahead: setTimeout cannot wait past 2^31-1 ms, and renewing early is harmless.
    const schedule = (ms: number, step: () => Promise<void>) => {
      if (!stopped) timer = setTimeout(() => void step(), Math.min(86_400_000, Math.max(0, Math.round(ms)))).unref();
    };
    const retry = (step: () => Promise<void>, err: unknown) => {
      failures++;
      const left = expiresAt - Date.now();
      if (expiresAt > 0 && left <= 0) {
        log.error('the transit seal token has expired: auto-unseal and seal operations fail until it is replaced', { err: String(err) });
        return;
      }
      let delay = Math.min(maxBackoff, minBackoff * 2 ** Math.min(failures - 1, 20));
      if (expiresAt > 0) delay = Math.min(delay, Math.max(left / 2, 100));
      log.warn('renewing the transit seal token failed; retrying', { err: String(err), retryInMs: delay, failures });
      schedule(delay, step);
    };
    /** Acts on a TTL just learnt (seconds; 0 = never expires). */
    const plan = (ttl: number, renewable: boolean, renewed = false, capped = false) => {
      if (ttl <= 0 && renewed) {
        log.error('the transit seal token reached its max TTL and expires now: auto-unseal fails until it is replaced');
        return;
      }
      if (ttl <= 0) {
        expiresAt = 0;
        log.info('the transit seal token does not expire: no renewal needed');
        return;
      }
      expiresAt = Date.now() + ttl * 1000;
      const at = new Date(expiresAt).toISOString();
      if (!renewable) {
        log.warn('the transit seal token is not renewable: auto-unseal fails after it expires', { expiresAt: at, ttlSeconds: ttl });
        return;
      }
      // TTLs are whole seconds, so one second short is rounding; Vault also warns when it caps.
      if (renewed && (capped || ttl < period - 1)) {
        log.warn('the transit seal token is near its max TTL: it cannot be renewed past it', { expiresAt: at, ttlSeconds: ttl });
      }
      schedule((ttl * 1000) / 2, renew);
    };
    const renew = async () => {
      if (stopped) return;
      try {
        const r = await tokenCall('renew-self', 'POST');
        failures = 0;
        const capped = Array.isArray(r.warnings) && r.warnings.some((w) => typeof w === 'string' && /max_ttl/.test(w));
        plan(Number(r.auth?.lease_duration ?? 0), r.auth?.renewable !== false, true, capped);
      } catch (err) {
        retry(renew, err);
      }
    };
    const start = async () => {
      if (stopped) return;
      try {
        const r = await tokenCall('lookup-self', 'GET');
        failures = 0;
        period = Number(r.data?.creation_ttl ?? r.data?.ttl ?? 0);
        plan(Number(r.data?.ttl ?? 0), r.data?.renewable === true);
      } catch (err) {
        retry(start, err);
      }
    };
    void start();
    return {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      },
    };
  };

  return {
    type: 'transit',
    keepAlive,
    async wrap(rootKey) {
      const { ciphertext } = await call('encrypt', { plaintext: rootKey.toString('base64') });
      if (!ciphertext) throw invalidRequest('the transit seal returned no ciphertext');
      return ciphertext;
    },
    async unwrap(blob) {
      const { plaintext } = await call('decrypt', { ciphertext: blob });
      if (!plaintext) throw new VaultError(503, 'seal_failed', ['the transit seal returned no plaintext']);
      return Buffer.from(plaintext, 'base64');
    },
  };
}

export function sealWrapperFor(settings: SealSettings): SealWrapper | undefined {
  return settings.type === 'transit' ? transitSeal(settings.transit!) : undefined;
}
