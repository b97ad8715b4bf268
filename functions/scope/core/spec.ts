// The ZenoScope / ZenoApp spec as the reconciler reads it: the CRD's types, its defaults applied
// (the API server applies them on write; a resource read from elsewhere may lack them) and the
// cross-field rules the CRD states as CEL, checked again here so a bad resource is reported, not half-built.
// The CRD is crds/zeno-scope.yaml; tests/manifests/scope-crds.test.ts checks these defaults agree with it.

interface ServiceRef {
  name: string;
  port: number;
}
interface RoutePath {
  path: string;
  pathType: 'PathPrefix' | 'Exact';
  service: ServiceRef;
}
export interface HostSpec {
  hostname: string;
  paths: RoutePath[];
}

/** The spec with every default filled in. */
export interface ScopeSpec {
  namespace?: string;
  database: { enabled: boolean; clusterRef?: { name: string; namespace: string }; name?: string; extensions: string[]; reclaimPolicy: 'delete' | 'retain' };
  vault: { enabled: boolean; path?: string; serviceAccounts?: string[]; tokenTTL: string };
  ingress: { enabled: boolean; gatewayRef: { name: string; namespace: string; sectionName?: string }; hosts: HostSpec[] };
  oauth: { enabled: boolean; tenant: string; redirectUris: string[]; scopes: string[] };
  monitoring: { enabled: boolean; port: string; path: string; interval: string };
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
}

/** A ZenoScope or ZenoApp as read from the API server. */
export interface ScopeResource {
  apiVersion: string;
  kind: 'ZenoScope' | 'ZenoApp';
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

type Loose = Record<string, any>;
const obj = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});
const list = <T>(v: unknown, fallback: T[] = []): T[] => (Array.isArray(v) ? (v as T[]) : fallback);

/** Fills the CRD's defaults into a spec as written (the API server does the same on admission). */
export function withDefaults(raw: unknown): ScopeSpec {
  const s = obj(raw);
  const db = obj(s.database);
  const vault = obj(s.vault);
  const ing = obj(s.ingress);
  const gw = obj(ing.gatewayRef);
  const oauth = obj(s.oauth);
  const mon = obj(s.monitoring);
  const clusterRef = db.clusterRef ? { name: String(obj(db.clusterRef).name ?? ''), namespace: String(obj(db.clusterRef).namespace ?? 'cnpg-system') } : undefined;
  return {
    ...(typeof s.namespace === 'string' ? { namespace: s.namespace } : {}),
    database: {
      enabled: db.enabled === true,
      ...(clusterRef ? { clusterRef } : {}),
      ...(typeof db.name === 'string' ? { name: db.name } : {}),
      extensions: list<string>(db.extensions),
      reclaimPolicy: db.reclaimPolicy === 'retain' ? 'retain' : 'delete',
    },
    vault: {
      enabled: vault.enabled === true,
      ...(typeof vault.path === 'string' ? { path: vault.path } : {}),
      ...(Array.isArray(vault.serviceAccounts) ? { serviceAccounts: vault.serviceAccounts as string[] } : {}),
      tokenTTL: typeof vault.tokenTTL === 'string' ? vault.tokenTTL : '1h',
    },
    ingress: {
      enabled: ing.enabled === true,
      gatewayRef: { name: gw.name ?? 'zenokube', namespace: gw.namespace ?? 'zenokube-system', ...(gw.sectionName ? { sectionName: gw.sectionName } : {}) },
      hosts: list<Loose>(ing.hosts).map((h) => ({
        hostname: String(h.hostname ?? ''),
        paths: list<Loose>(h.paths).map((p) => ({ path: p.path ?? '/', pathType: p.pathType === 'Exact' ? 'Exact' : 'PathPrefix', service: { name: String(obj(p.service).name ?? ''), port: Number(obj(p.service).port) } })),
      })),
    },
    oauth: {
      enabled: oauth.enabled === true,
      tenant: typeof oauth.tenant === 'string' ? oauth.tenant : 'default',
      redirectUris: list<string>(oauth.redirectUris),
      scopes: list<string>(oauth.scopes, ['openid', 'profile', 'email']),
    },
    monitoring: {
      enabled: mon.enabled === true,
      port: typeof mon.port === 'string' ? mon.port : 'metrics',
      path: typeof mon.path === 'string' ? mon.path : '/metrics',
      interval: typeof mon.interval === 'string' ? mon.interval : '30s',
    },
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The CRD's cross-field rules (its x-kubernetes-validations) and what a route needs; empty when valid. */
export function specProblems(spec: ScopeSpec): string[] {
  const problems: string[] = [];
  if (spec.database.enabled && !spec.database.clusterRef?.name) problems.push('an enabled database needs a clusterRef');
  if (spec.ingress.enabled && spec.ingress.hosts.length === 0) problems.push('an enabled ingress needs at least one host');
  for (const h of spec.ingress.hosts) {
    if (!HOSTNAME.test(h.hostname) || h.hostname.length > 253) problems.push(`host ${JSON.stringify(h.hostname)} is not a hostname`);
    for (const p of h.paths) {
      if (!DNS_LABEL.test(p.service.name)) problems.push(`service ${JSON.stringify(p.service.name)} is not a Service name`);
      if (!Number.isInteger(p.service.port) || p.service.port < 1 || p.service.port > 65535) problems.push(`service port ${String(p.service.port)} is out of range`);
      if (!p.path.startsWith('/')) problems.push(`path ${JSON.stringify(p.path)} does not start with /`);
    }
  }
  if (spec.oauth.enabled && spec.oauth.redirectUris.length === 0) problems.push('an enabled oauth client needs a redirect URI');
  if (spec.namespace !== undefined && !DNS_LABEL.test(spec.namespace)) problems.push(`namespace ${JSON.stringify(spec.namespace)} is not a DNS label`);
  return problems;
}
