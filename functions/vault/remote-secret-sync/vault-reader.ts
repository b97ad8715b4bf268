// How the RemoteSecret operator reads the vault: it logs in with its own service account through
// auth/kubernetes (the role the resource names), keeps each role's token until shortly before its
// lease ends, and reads KV v2 paths with it. A 404 means the path is gone (never written, or its
// latest version deleted or destroyed); anything else that is not a 200 is a failure, never "gone".
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#login
// @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version
import { readFile } from 'node:fs/promises';
import type { Remote } from './sync-rule.js';

export interface VaultReader {
  read(mount: string, role: string, path: string): Promise<Remote>;
}

interface VaultAccess {
  /** ZenoVault's address, without /v1 (e.g. http://vault-api.zenokube.svc.cluster.local/vault). */
  address: string;
  /** The service-account token to log in with (read on each login: projected tokens rotate). */
  jwtFile: string;
  /** The Kubernetes auth mount, default `kubernetes`. */
  authMount?: string;
  now?: () => number;
}

const seg = (p: string) => p.split('/').map(encodeURIComponent).join('/');
const errorsOf = (body: unknown) => (Array.isArray((body as { errors?: unknown })?.errors) ? (body as { errors: unknown[] }).errors.map(String).join('; ').slice(0, 300) : '');

export function createVaultReader(access: VaultAccess): VaultReader {
  const base = access.address.replace(/\/+$/, '');
  const now = access.now ?? Date.now;
  const tokens = new Map<string, { token: string; until: number }>();
  const fetchJson = async (url: string, init: RequestInit) => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body };
  };
  const login = async (role: string): Promise<string> => {
    const cached = tokens.get(role);
    if (cached && cached.until > now()) return cached.token;
    const jwt = (await readFile(access.jwtFile, 'utf8')).trim();
    const { status, body } = await fetchJson(`${base}/v1/auth/${seg(access.authMount ?? 'kubernetes')}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role, jwt }),
    });
    const auth = (body as { auth?: { client_token?: string; lease_duration?: number } })?.auth;
    if (status !== 200 || !auth?.client_token) throw new Error(`login to role ${role} answered ${status}${errorsOf(body) ? `: ${errorsOf(body)}` : ''}`);
    // Renewed at two thirds of the lease, so a read never carries a token about to expire.
    tokens.set(role, { token: auth.client_token, until: now() + ((auth.lease_duration ?? 60) * 1000 * 2) / 3 });
    return auth.client_token;
  };
  const readOnce = async (mount: string, role: string, path: string) => {
    const token = await login(role);
    return fetchJson(`${base}/v1/${seg(mount)}/data/${seg(path)}`, { headers: { 'x-vault-token': token } });
  };
  return {
    async read(mount, role, path) {
      try {
        let answer = await readOnce(mount, role, path);
        // A token revoked or expired early: log in again once.
        if (answer.status === 403 && tokens.has(role)) {
          tokens.delete(role);
          answer = await readOnce(mount, role, path);
        }
        if (answer.status === 404) return { state: 'gone' };
        const data = (answer.body as { data?: { data?: unknown; metadata?: { version?: unknown } } })?.data;
        if (answer.status !== 200 || !data || typeof data.data !== 'object' || data.data === null) {
          return { state: 'failed', message: `the vault answered ${answer.status}${errorsOf(answer.body) ? `: ${errorsOf(answer.body)}` : ''}` };
        }
        return { state: 'found', version: typeof data.metadata?.version === 'number' ? data.metadata.version : 0, data: data.data as Record<string, unknown> };
      } catch (err) {
        return { state: 'failed', message: (err as Error).message.slice(0, 300) };
      }
    },
  };
}
