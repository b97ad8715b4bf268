// Small builders of Gateway API objects for the engine's tests.
import type { Gateway, HTTPRoute, HTTPRouteRule, ListenerSpec, ResourceSet, Service } from './resources.js';
import { emptyResourceSet } from './resources.js';
import type { MatchRequest } from './match.js';

export function gateway(name: string, listeners: Partial<ListenerSpec>[], namespace = 'infra'): Gateway {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: { gatewayClassName: 'zenokube', listeners: listeners.map((l, i) => ({ name: `l${i}`, port: 80, protocol: 'HTTP', ...l })) },
  };
}

export function route(name: string, rules: HTTPRouteRule[], opts: { namespace?: string; hostnames?: string[]; parent?: string; created?: string; sectionName?: string; port?: number } = {}): HTTPRoute {
  const parentRef: { name: string; namespace: string; sectionName?: string; port?: number } = { name: opts.parent ?? 'gw', namespace: 'infra' };
  if (opts.sectionName) parentRef.sectionName = opts.sectionName;
  if (opts.port) parentRef.port = opts.port;
  const r: HTTPRoute = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: opts.namespace ?? 'infra' },
    spec: { parentRefs: [parentRef], rules },
  };
  if (opts.created) r.metadata.creationTimestamp = opts.created;
  if (opts.hostnames) r.spec!.hostnames = opts.hostnames;
  return r;
}

export function service(name: string, namespace = 'infra', port = 8080): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { clusterIP: '10.0.0.1', ports: [{ port }] } };
}

export const to = (name: string, extra: Record<string, unknown> = {}) => ({ backendRefs: [{ name, port: 8080, ...extra }] });

export function resources(parts: Partial<ResourceSet>): ResourceSet {
  return { ...emptyResourceSet(), ...parts };
}

export function request(path: string, opts: { host?: string; method?: string; headers?: Record<string, string>; query?: string } = {}): MatchRequest {
  const headers = Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { host: opts.host ?? 'example.com', path, query: opts.query ?? '', method: opts.method ?? 'GET', header: (n) => headers[n] };
}
