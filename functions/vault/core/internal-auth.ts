// The internal channel between the vault api and the unsealer: each request carries an
// HMAC-SHA256 over method, path, timestamp, a random nonce and the body's SHA-256, keyed by a
// secret only these two functions mount (a Kubernetes Secret). A stolen service-account token
// of the api pod does not sign; a captured request replays neither after 30 s nor within them
// (nonces are remembered for the window).
import { createHash, createHmac, randomBytes, timingSafeEqual, createSecretKey, type KeyObject } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-zeno-vault-signature';
export const WINDOW_MS = 30_000;

/** The key as bytes or, imported once with createSecretKey, as a KeyObject. */
type MacKey = Uint8Array | KeyObject;

function mac(key: MacKey, method: string, path: string, ts: string, nonce: string, body: string): Buffer {
  const bodyHash = createHash('sha256').update(body, 'utf8').digest('hex');
  return createHmac('sha256', key).update(`zenokube-vault-internal/v1\n${method}\n${path}\n${ts}\n${nonce}\n${bodyHash}`).digest();
}

/** The header value for a request: `t=<ms>,n=<nonce>,s=<base64url mac>`. */
export function signRequest(key: MacKey, method: string, path: string, body: string, now = Date.now()): string {
  const ts = String(now);
  const nonce = randomBytes(16).toString('base64url');
  return `t=${ts},n=${nonce},s=${mac(key, method, path, ts, nonce, body).toString('base64url')}`;
}

type VerifyResult = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'replayed' | 'bad_signature' };

/** Verifies signatures and remembers nonces for the freshness window. */
export function createVerifier(raw: MacKey) {
  const key = raw instanceof Uint8Array ? createSecretKey(raw) : raw;
  const seen = new Map<string, number>();
  let lastSweep = 0;
  return (header: string | undefined, method: string, path: string, body: string, now = Date.now()): VerifyResult => {
    if (!header) return { ok: false, reason: 'missing' };
    const m = /^t=(\d{1,16}),n=([A-Za-z0-9_-]{16,64}),s=([A-Za-z0-9_-]{43})$/.exec(header);
    if (!m) return { ok: false, reason: 'malformed' };
    const [, ts, nonce, sig] = m as unknown as [string, string, string, string];
    if (Math.abs(now - Number(ts)) > WINDOW_MS) return { ok: false, reason: 'stale' };
    const expected = mac(key, method, path, ts, nonce, body);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
    if (now - lastSweep > WINDOW_MS) {
      for (const [n, t] of seen) if (now - t > 2 * WINDOW_MS) seen.delete(n);
      lastSweep = now;
    }
    if (seen.has(nonce)) return { ok: false, reason: 'replayed' };
    seen.set(nonce, now);
    return { ok: true };
  };
}

let processKey: Buffer | undefined;
/**
 * The key when none is configured: random per process, so it works only when api and unsealer
 * share a process (the local runner). A cluster sets VAULT_INTERNAL_KEY from a Secret.
 */
export function resolveInternalKey(configured: string | undefined, inCluster = false): Buffer {
  if (!configured && inCluster) {
    throw new TypeError('VAULT_INTERNAL_KEY is required in a cluster (api and unsealer run in different pods)');
  }
  if (configured) {
    const key = Buffer.from(configured, 'base64');
    if (key.length < 32) throw new TypeError('VAULT_INTERNAL_KEY must be at least 32 bytes, base64-encoded');
    return key;
  }
  processKey ??= randomBytes(32);
  return processKey;
}
