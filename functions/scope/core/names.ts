// The names one ZenoScope or ZenoApp gives what it provisions, derived from the resource alone so
// that every reconcile (and the teardown) finds the same objects again.
import { createHash } from 'node:crypto';
import type { ScopeResource, ScopeSpec } from './spec.js';

/** Label on every object we create: the owning resource's uid (names can be reused, uids cannot). */
export const OWNER_LABEL = 'scope.zenokube.io/owner-uid';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'zenokube-scope' } as const;
/** Prefix of the label each user of a shared Database puts on it (the key's name part is its uid). */
export const SHARER_PREFIX = 'sharer.scope.zenokube.io/';
export const FINALIZER = 'scope.zenokube.io/teardown';

export interface ScopeNames {
  /** `ZenoScope/payment-team` or `ZenoApp/shop/cart`. */
  key: string;
  uid: string;
  /** The namespace the environment lives in. */
  namespace: string;
  /** Whether the namespace is ours to create and delete (ZenoScope), or the ZenoApp's own. */
  ownsNamespace: boolean;
  /** A DNS-label base for object names, unique per resource. */
  base: string;
  /** PostgreSQL identifiers. */
  database: string;
  databaseOwner: string;
  loginRole: string;
  /** Kubernetes names in the database cluster's namespace. */
  databaseObject: string;
  ownerRoleObject: string;
  loginRoleObject: string;
  passwordSecret: string;
  /** Secrets in the namespace. */
  databaseSecret: string;
  oauthSecret: string;
  vaultPath: string;
  vaultPolicy: string;
  vaultRole: string;
  oauthClientId: string;
}

/** Cuts a name to `max` characters, keeping it unique with a hash of the whole when cut. */
function fit(name: string, max: number, sep: string): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9).replace(/[-_]+$/, '')}${sep}${hash}`;
}

const pg = (s: string) => s.replace(/-/g, '_');
const dns = (s: string) => s.replace(/_/g, '-');

export function namesOf(resource: ScopeResource, spec: ScopeSpec): ScopeNames {
  const { name } = resource.metadata;
  const isScope = resource.kind === 'ZenoScope';
  const namespace = isScope ? (spec.namespace ?? name) : (resource.metadata.namespace ?? 'default');
  const base = fit(isScope ? name : `${namespace}-${name}`, 52, '-');
  const database = fit(spec.database.name ?? pg(base), 50, '_');
  const loginRole = fit(pg(base), 63, '_');
  return {
    key: isScope ? `ZenoScope/${name}` : `ZenoApp/${namespace}/${name}`,
    uid: resource.metadata.uid ?? '',
    namespace,
    ownsNamespace: isScope,
    base,
    database,
    databaseOwner: `${database}_owner`,
    loginRole,
    databaseObject: `zs-db-${dns(database)}`,
    ownerRoleObject: `zs-db-${dns(database)}-owner`,
    loginRoleObject: `zs-role-${base}`,
    passwordSecret: `zs-role-${base}`,
    databaseSecret: `${fit(name, 50, '-')}-database`,
    oauthSecret: `${fit(name, 50, '-')}-oauth`,
    vaultPath: spec.vault.path ?? (isScope ? `scopes/${namespace}` : `apps/${namespace}/${name}`),
    vaultPolicy: `scope-${base}`,
    vaultRole: `scope-${base}`,
    oauthClientId: `scope-${base}`,
  };
}
