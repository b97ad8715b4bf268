// The ZenoVault calls the reconciler makes, over the HashiCorp Vault HTTP API as any client would:
// ACL policies, Kubernetes auth roles and KV v2 secrets under the `secret/` mount.
// @see https://developer.hashicorp.com/vault/api-docs/system/policies
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
import type { VaultRole } from '#functions/scope/core/external';

class VaultApiError extends Error {
  readonly code = 'vault_api_error';
  readonly status: number;
  constructor(status: number, what: string, errors: unknown) {
    super(`ZenoVault ${status} for ${what}: ${JSON.stringify(errors).slice(0, 300)}`);
    this.status = status;
  }
}

export interface VaultApi {
  readPolicy(name: string): Promise<string | undefined>;
  putPolicy(name: string, policy: string): Promise<void>;
  deletePolicy(name: string): Promise<void>;
  readRole(name: string): Promise<Partial<VaultRole> | undefined>;
  putRole(name: string, role: VaultRole): Promise<void>;
  deleteRole(name: string): Promise<void>;
  readSecret(path: string): Promise<Record<string, string> | undefined>;
  putSecret(path: string, data: Record<string, string>): Promise<void>;
  /** Deletes every version and the metadata of the path. */
  deleteSecret(path: string): Promise<void>;
}

/** `token()` gives the vault token to send (a fixed one, or a login's). */
export function createVaultApi(address: string, token: () => Promise<string>): VaultApi {
  const base = address.replace(/\/+$/, '');
  const seg = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': await token(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as any) : undefined;
    if (res.status === 404 && method === 'GET') return undefined;
    if (!res.ok) throw new VaultApiError(res.status, `${method} ${path}`, json?.errors ?? text.slice(0, 200));
    return json;
  };
  return {
    readPolicy: async (name) => {
      const r = await call('GET', `sys/policies/acl/${seg(name)}`);
      return r ? ((r.data?.policy ?? r.policy) as string) : undefined;
    },
    putPolicy: async (name, policy) => void (await call('PUT', `sys/policies/acl/${seg(name)}`, { policy })),
    deletePolicy: async (name) => void (await call('DELETE', `sys/policies/acl/${seg(name)}`)),
    readRole: async (name) => (await call('GET', `auth/kubernetes/role/${seg(name)}`))?.data as Partial<VaultRole> | undefined,
    putRole: async (name, role) => void (await call('POST', `auth/kubernetes/role/${seg(name)}`, role)),
    deleteRole: async (name) => void (await call('DELETE', `auth/kubernetes/role/${seg(name)}`)),
    readSecret: async (path) => (await call('GET', `secret/data/${seg(path)}`))?.data?.data as Record<string, string> | undefined,
    putSecret: async (path, data) => void (await call('POST', `secret/data/${seg(path)}`, { data })),
    deleteSecret: async (path) => void (await call('DELETE', `secret/metadata/${seg(path)}`)),
  };
}
