// The HTTPRoute that exposes a function's public routes on the Gateway.
import type { FunctionDeclaration, RouteDeclaration } from '#shared/function/define';
import { functionLabels } from './names.js';
import type { ManifestOptions } from './options.js';

function matches(route: RouteDeclaration): Record<string, unknown>[] {
  const path = { type: route.match ?? 'PathPrefix', value: route.path };
  if (!route.methods?.length) return [{ path }];
  return [...new Set(route.methods.map((m) => m.toUpperCase()))].sort().map((method) => ({ path, method }));
}

/**
 * `gateway.networking.k8s.io/v1` HTTPRoute, one rule per declared route, all to the function's
 * Knative Service. That Service is cluster-local: Knative's local gateway selects the revision by
 * Host, so the rule rewrites Host to the Service's cluster-local name (a URLRewrite filter).
 * @see https://gateway-api.sigs.k8s.io/api-types/httproute/
 * @see https://knative.dev/docs/serving/services/private-services/
 */
export function httpRoute(decl: FunctionDeclaration, opts: ManifestOptions): Record<string, unknown> | undefined {
  if (decl.routes.length === 0) return undefined;
  const host = `${decl.name}.${opts.namespace}.svc.cluster.local`;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: decl.name,
      labels: functionLabels(decl, opts.version),
      // How ZenoIngress shapes its own answers on these routes (functions/ingress/engine/rules.ts).
      ...(decl.errorFormat && decl.errorFormat !== 'problem' ? { annotations: { 'ingress.zenokube.io/error-format': decl.errorFormat } } : {}),
    },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: opts.gateway.name, namespace: opts.gateway.namespace }],
      rules: decl.routes.map((route) => ({
        matches: matches(route),
        filters: [{ type: 'URLRewrite', urlRewrite: { hostname: host } }],
        backendRefs: [{ group: '', kind: 'Service', name: decl.name, port: 80 }],
        timeouts: { request: `${decl.scaling.timeoutSeconds}s` },
      })),
    },
  };
}
