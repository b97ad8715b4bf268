// The routing configuration of the local cluster, in the same objects a cluster has: the Gateway
// and the functions' HTTPRoutes exactly as the manifest generator writes them for knative/, plus
// one Service and EndpointSlice per backend that resolve its backendRef to the loopback address
// where this process serves it (in a cluster, Knative's Service of the same name resolves it).
import { BROKER_PREFIX } from '#eventing/broker/index';
import type { CompiledConfig, Endpoint, EndpointSlice, Gateway, HTTPRoute, Namespace, ResourceSet, Service } from '#functions/ingress/index';
import { compile, emptyResourceSet, statusProblems } from '#functions/ingress/index';
import { defaultOptions, gateway, httpRoute, type ManifestOptions } from '#manifests/index';
import type { FunctionDeclaration } from '#shared/function/define';
import { INTERNAL_PREFIX } from './internal.js';

/** The reference names (namespace, Gateway); the version only labels objects nobody reads here. */
export const LOCAL_OPTIONS: ManifestOptions = defaultOptions('local');

/** Backend of the runner's own endpoints: stack health, the broker, the internal function paths. */
export const STACK_BACKEND = 'zenokube-stack';
/** The port every backendRef names (the Knative Service's port). */
export const SERVICE_PORT = 80;

/** The stack's own HTTPRoute: only the runner has these paths; a cluster has no such route. */
function stackRoute(opts: ManifestOptions): HTTPRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: STACK_BACKEND, namespace: opts.namespace },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: opts.gateway.name, namespace: opts.gateway.namespace }],
      rules: [
        {
          matches: [
            { path: { type: 'Exact', value: '/healthz' } },
            { path: { type: 'Exact', value: '/readyz' } },
            { path: { type: 'PathPrefix', value: BROKER_PREFIX } },
            { path: { type: 'PathPrefix', value: INTERNAL_PREFIX.slice(0, -1) } },
          ],
          backendRefs: [{ group: '', kind: 'Service', name: STACK_BACKEND, port: SERVICE_PORT }],
        },
      ],
    },
  };
}

function namespace(name: string): Namespace {
  // Kubernetes labels every namespace with its name; the Gateway's allowedRoutes selects on it.
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } };
}

function backend(name: string, ns: string, endpoint: Endpoint): { service: Service; slice: EndpointSlice } {
  return {
    service: { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ name: 'http', port: SERVICE_PORT }] } },
    slice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: endpoint.host.includes(':') ? 'IPv6' : 'IPv4',
      endpoints: [{ addresses: [endpoint.host], conditions: { ready: true } }],
      ports: [{ name: 'http', port: endpoint.port, protocol: 'TCP' }],
    },
  };
}

/**
 * Gateway, Namespaces, the generated HTTPRoute of every declaration with routes, the stack's route,
 * and a Service with its EndpointSlice for each entry of `backends` (function name or
 * STACK_BACKEND → where it listens).
 */
export function localResources(
  decls: readonly FunctionDeclaration[],
  backends: ReadonlyMap<string, Endpoint>,
  opts: ManifestOptions = LOCAL_OPTIONS,
): ResourceSet {
  const set = emptyResourceSet();
  set.namespaces.push(namespace(opts.namespace), namespace(opts.gateway.namespace));
  set.gateways.push(gateway(opts) as unknown as Gateway);
  for (const decl of decls) {
    const route = httpRoute(decl, opts) as unknown as HTTPRoute | undefined;
    // kustomize sets the namespace in a cluster; here it is set on the object.
    if (route) set.routes.push({ ...route, metadata: { ...route.metadata, namespace: opts.namespace } });
  }
  set.routes.push(stackRoute(opts));
  for (const [name, endpoint] of backends) {
    const b = backend(name, opts.namespace, endpoint);
    set.services.push(b.service);
    set.endpointSlices.push(b.slice);
  }
  return set;
}

/** Compiles the local configuration; any False condition is a bug in what we generated, so it throws. */
export function compileLocal(set: ResourceSet): CompiledConfig {
  const config = compile(set);
  const problems = statusProblems(config.status);
  if (problems.length > 0) throw new Error(`the local routing configuration is invalid:\n  ${problems.join('\n  ')}`);
  return config;
}
