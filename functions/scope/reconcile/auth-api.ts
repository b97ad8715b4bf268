// The ZenoAuth admin calls the reconciler makes: OAuth clients of a tenant. The admin token comes
// from the client-credentials grant of the system tenant's admin client, kept until shortly before
// it expires.
// @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
import type { OAuthClientWanted } from '#functions/scope/core/external';

export class AuthApiError extends Error {
  readonly code = 'auth_api_error';
  readonly status: number;
  constructor(status: number, what: string, detail: string) {
    super(`ZenoAuth ${status} for ${what}: ${detail.slice(0, 300)}`);
    this.status = status;
  }
}

export interface AuthApi {
  getClient(tenant: string, clientId: string): Promise<{ redirectUris: string[] } | undefined>;
  /** Creates the client; returns its secret (shown once). */
  createClient(client: OAuthClientWanted): Promise<string>;
  /** A new secret for an existing client; the old one stops working. */
  rotateSecret(tenant: string, clientId: string): Promise<string>;
  deleteClient(tenant: string, clientId: string): Promise<void>;
}

export function createAuthApi(baseUrl: string, adminClientId: string, adminSecret: string, now: () => number = Date.now): AuthApi {
  const base = baseUrl.replace(/\/+$/, '');
  let cached: { token: string; until: number } | undefined;
  const token = async (): Promise<string> => {
    if (cached && cached.until > now()) return cached.token;
    const res = await fetch(`${base}/auth/system/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(adminClientId)}:${encodeURIComponent(adminSecret)}`).toString('base64') },
      body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string };
    if (!res.ok || !body.access_token) throw new AuthApiError(res.status, 'the admin token', body.error ?? '');
    cached = { token: body.access_token, until: now() + Math.max(0, (body.expires_in ?? 60) - 30) * 1000 };
    return cached.token;
  };
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}/auth/admin/tenants/${path}`, {
      method,
      headers: { authorization: `Bearer ${await token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    if (res.status === 404 && method === 'GET') return undefined;
    const text = await res.text();
    if (!res.ok) throw new AuthApiError(res.status, `${method} ${path}`, text);
    return text ? JSON.parse(text) : undefined;
  };
  const at = (tenant: string, clientId?: string) => `${encodeURIComponent(tenant)}/clients${clientId ? `/${encodeURIComponent(clientId)}` : ''}`;
  return {
    getClient: async (tenant, clientId) => {
      const c = (await call('GET', at(tenant, clientId))) as { redirect_uris: string[] } | undefined;
      return c ? { redirectUris: c.redirect_uris } : undefined;
    },
    createClient: async (w) =>
      (
        (await call('POST', at(w.tenant), {
          client_id: w.clientId,
          client_name: w.clientId,
          redirect_uris: w.redirectUris,
          grant_types: ['authorization_code', 'refresh_token'],
          scope: w.scopes.join(' '),
        })) as { client_secret: string }
      ).client_secret,
    rotateSecret: async (tenant, clientId) => ((await call('POST', `${at(tenant, clientId)}/secret`)) as { client_secret: string }).client_secret,
    deleteClient: async (tenant, clientId) => void (await call('DELETE', at(tenant, clientId))),
  };
}
