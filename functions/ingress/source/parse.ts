// Reads Kubernetes objects from YAML text (multi-document) into a ResourceSet. Malformed
// documents and unknown kinds are reported, never thrown: one bad file must not stop the rest.
import { parseAllDocuments } from 'yaml';
import type { ResourceSet } from '../engine/resources.js';
import { emptyResourceSet } from '../engine/resources.js';

export interface ParseProblem {
  source: string;
  message: string;
}

const COLLECTIONS: Record<string, keyof ResourceSet> = {
  Gateway: 'gateways',
  HTTPRoute: 'routes',
  GRPCRoute: 'grpcRoutes',
  TLSRoute: 'tlsRoutes',
  BackendTLSPolicy: 'backendTLSPolicies',
  ConfigMap: 'configMaps',
  ReferenceGrant: 'grants',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  Namespace: 'namespaces',
  ExtAuthFilter: 'extAuthFilters',
};

/** Kinds present in Kubernetes manifests that the ingress has no use for; skipped silently. */
const IGNORED = new Set(['Deployment', 'GatewayClass', 'Pod', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Adds the objects of one YAML text to `set`; returns the problems found. */
export function parseManifests(text: string, source: string, set: ResourceSet = emptyResourceSet()): { set: ResourceSet; problems: ParseProblem[] } {
  const problems: ParseProblem[] = [];
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    return { set, problems: [{ source, message: (err as Error).message }] };
  }
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = `${source}#${i}`;
    if (doc.errors.length > 0) {
      problems.push({ source: where, message: doc.errors[0]!.message });
      return;
    }
    const obj: unknown = doc.toJS({ maxAliasCount: 50 });
    if (obj === null || obj === undefined) return;
    if (!isObject(obj) || typeof obj.kind !== 'string' || !isObject(obj.metadata) || typeof obj.metadata.name !== 'string') {
      problems.push({ source: where, message: 'not a Kubernetes object (kind and metadata.name required)' });
      return;
    }
    const items = obj.kind.endsWith('List') && Array.isArray(obj.items) ? (obj.items as unknown[]) : [obj];
    for (const item of items) {
      if (!isObject(item) || typeof item.kind !== 'string' || !isObject(item.metadata)) continue;
      const target = COLLECTIONS[item.kind];
      if (!target) {
        if (!IGNORED.has(item.kind)) problems.push({ source: where, message: `kind ${item.kind} is not used by the ingress` });
        continue;
      }
      const problem = shapeProblem(item);
      if (problem) {
        problems.push({ source: where, message: `${item.kind} ${String(item.metadata.name)}: ${problem}` });
        continue;
      }
      (set[target] as unknown[]).push(item);
    }
  });
  return { set, problems };
}

/** The structural checks the API server's schema would make, for what the engine relies on. */
function shapeProblem(o: Record<string, unknown>): string | undefined {
  const spec = o.spec as Record<string, unknown> | undefined;
  switch (o.kind) {
    case 'Gateway':
      if (!isObject(spec) || !Array.isArray(spec.listeners)) return 'spec.listeners must be a list';
      for (const l of spec.listeners) if (!isObject(l) || typeof l.name !== 'string' || typeof l.port !== 'number' || typeof l.protocol !== 'string') return 'each listener needs name, port and protocol';
      return undefined;
    case 'HTTPRoute':
    case 'GRPCRoute':
    case 'TLSRoute':
      if (spec !== undefined && !isObject(spec)) return 'spec must be an object';
      if (spec?.rules !== undefined && !Array.isArray(spec.rules)) return 'spec.rules must be a list';
      if (spec?.parentRefs !== undefined && !Array.isArray(spec.parentRefs)) return 'spec.parentRefs must be a list';
      if (spec?.hostnames !== undefined && !(Array.isArray(spec.hostnames) && spec.hostnames.every((h) => typeof h === 'string'))) return 'spec.hostnames must be strings';
      for (const r of (spec?.rules as unknown[]) ?? []) {
        if (!isObject(r)) return 'each rule must be an object';
        for (const k of ['matches', 'filters', 'backendRefs'] as const) if (r[k] !== undefined && !Array.isArray(r[k])) return `rules[].${k} must be a list`;
      }
      return undefined;
    case 'ReferenceGrant':
      if (!isObject(spec) || !Array.isArray(spec.from) || !Array.isArray(spec.to)) return 'spec.from and spec.to must be lists';
      return undefined;
    case 'Service':
      if (spec !== undefined && (!isObject(spec) || (spec.ports !== undefined && !Array.isArray(spec.ports)))) return 'spec.ports must be a list';
      return undefined;
    case 'BackendTLSPolicy':
      if (!isObject(spec) || !Array.isArray(spec.targetRefs) || !isObject(spec.validation)) return 'spec.targetRefs must be a list and spec.validation an object';
      return undefined;
    case 'ConfigMap':
      if (o.data !== undefined && !(isObject(o.data) && Object.values(o.data).every((v) => typeof v === 'string'))) return 'data must map keys to strings';
      return undefined;
    case 'ExtAuthFilter':
      if (!isObject(spec) || typeof spec.url !== 'string') return 'spec.url is required';
      return undefined;
    default:
      return undefined;
  }
}
