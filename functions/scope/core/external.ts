// What one ZenoScope or ZenoApp wants outside Kubernetes: a ZenoVault ACL policy over its KV path
// and a Kubernetes auth role bound to its namespace, and an OAuth client in ZenoAuth.
// @see https://developer.hashicorp.com/vault/docs/concepts/policies
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-role
import type { ScopeNames } from './names.js';
import type { ScopeSpec } from './spec.js';

/** A Kubernetes auth role as ZenoVault's `auth/kubernetes/role/:name` takes and returns it. */
export interface VaultRole {
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  token_policies: string[];
  token_ttl: number;
  /** The audience the application's projected service-account token must carry: ZenoVault logs nobody in to a role without one. */
  audience: string;
}

/** The audience of the projected tokens applications log in to ZenoVault with (as the RemoteSecret operator's). */
export const VAULT_AUDIENCE = 'vault';

export interface OAuthClientWanted {
  tenant: string;
  clientId: string;
  redirectUris: string[];
  scopes: string[];
}

/** Read and write under the path, list and delete its versions: nothing outside it. */
export function vaultPolicy(n: ScopeNames): string {
  const p = n.vaultPath;
  return [
    `# ${n.key}: its own KV v2 path, nothing else`,
    `path "secret/data/${p}" { capabilities = ["create", "read", "update", "delete"] }`,
    `path "secret/data/${p}/*" { capabilities = ["create", "read", "update", "delete"] }`,
    `path "secret/metadata/${p}" { capabilities = ["read", "list", "delete"] }`,
    `path "secret/metadata/${p}/*" { capabilities = ["read", "list", "delete"] }`,
    '',
  ].join('\n');
}

const SECONDS = { s: 1, m: 60, h: 3600 } as const;

export function vaultRole(n: ScopeNames, spec: ScopeSpec): VaultRole {
  const ttl = /^([0-9]+)(s|m|h)$/.exec(spec.vault.tokenTTL);
  return {
    bound_service_account_names: spec.vault.serviceAccounts && spec.vault.serviceAccounts.length > 0 ? [...spec.vault.serviceAccounts] : ['*'],
    bound_service_account_namespaces: [n.namespace],
    token_policies: [n.vaultPolicy],
    token_ttl: ttl ? Number(ttl[1]) * SECONDS[ttl[2] as keyof typeof SECONDS] : 3600,
    audience: VAULT_AUDIENCE,
  };
}

/** Whether a role read back from the vault grants what `want` does. */
export function sameRole(want: VaultRole, have: Partial<VaultRole> | undefined): boolean {
  if (!have) return false;
  const set = (a: readonly string[] | undefined) => JSON.stringify([...(a ?? [])].sort());
  return (
    set(want.bound_service_account_names) === set(have.bound_service_account_names) &&
    set(want.bound_service_account_namespaces) === set(have.bound_service_account_namespaces) &&
    set(want.token_policies) === set(have.token_policies) &&
    want.token_ttl === have.token_ttl &&
    want.audience === have.audience
  );
}

export function oauthClient(n: ScopeNames, spec: ScopeSpec): OAuthClientWanted | undefined {
  if (!spec.oauth.enabled) return undefined;
  return { tenant: spec.oauth.tenant, clientId: n.oauthClientId, redirectUris: [...spec.oauth.redirectUris], scopes: [...spec.oauth.scopes] };
}
