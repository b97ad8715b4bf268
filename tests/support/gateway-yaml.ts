// Gateway API manifests for ingress tests and benchmarks, one YAML document per builder: a Gateway, an HTTPRoute, a Service and its EndpointSlice on 127.0.0.1.
import { stringify } from 'yaml';
import type { EndpointSlice, Gateway, HTTPRoute, Service } from '#functions/ingress/index';

type GatewaySpec = NonNullable<Gateway['spec']>;
type Rule = NonNullable<NonNullable<HTTPRoute['spec']>['rules']>[number];

/** The port every Service built here exposes, and so the one backendRefs name. */
export const SERVICE_PORT = 8080;

/** Documents joined into one multi-document YAML stream, as a manifest file holds them. */
export function yamlStream(...documents: string[]): string {
  return documents.join('---\n');
}

/**
 * A Gateway; without `listeners`, one plain HTTP listener named `http` on port 80.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway
 */
export function gatewayYaml(options: {
  name: string;
  namespace: string;
  gatewayClassName?: string;
  listeners?: GatewaySpec['listeners'];
  addresses?: GatewaySpec['addresses'];
}): string {
  const { name, namespace, gatewayClassName = 'z', listeners = [{ name: 'http', port: 80, protocol: 'HTTP' }], addresses } = options;
  const gateway: Gateway = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: { gatewayClassName, ...(addresses ? { addresses } : {}), listeners },
  };
  return stringify(gateway);
}

/**
 * An HTTPRoute attached to the Gateway `gateway` of its own namespace.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#httproute
 */
export function httpRouteYaml(options: { name: string; namespace: string; gateway: string; rules: Rule[]; annotations?: Record<string, string>; hostnames?: string[] }): string {
  const route: HTTPRoute = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: options.name, namespace: options.namespace, ...(options.annotations ? { annotations: options.annotations } : {}) },
    spec: { parentRefs: [{ name: options.gateway }], ...(options.hostnames ? { hostnames: options.hostnames } : {}), rules: options.rules },
  };
  return stringify(route);
}

/**
 * A rule sending paths under `prefix` (or, with `type`, matching it otherwise) to the Service `backend`.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#httproutematch
 */
export function prefixRule(prefix: string, backend: string, type: 'PathPrefix' | 'Exact' | 'RegularExpression' = 'PathPrefix'): Rule {
  return { matches: [{ path: { type, value: prefix } }], backendRefs: [{ name: backend, port: SERVICE_PORT }] };
}

/** A Service named `name` with one `http` port, SERVICE_PORT; its endpoints come from EndpointSlices. */
export function serviceYaml(name: string, namespace: string): string {
  const service: Service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [{ name: 'http', port: SERVICE_PORT }] } };
  return stringify(service);
}

/**
 * An EndpointSlice (default name `<service>-1`) giving the Service `service` one endpoint, 127.0.0.1:`port`.
 * @see https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
 */
export function endpointSliceYaml(options: { service: string; namespace: string; port: number; name?: string; addressType?: string }): string {
  const { service, namespace, port, name = `${service}-1`, addressType } = options;
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
    ...(addressType ? { addressType } : {}),
    endpoints: [{ addresses: ['127.0.0.1'] }],
    ports: [{ name: 'http', port }],
  };
  return stringify(slice);
}

/** A Service and its one EndpointSlice, for a backend listening on 127.0.0.1:`port`. */
export function backendYaml(name: string, namespace: string, port: number, addressType?: string): string {
  return yamlStream(serviceYaml(name, namespace), endpointSliceYaml({ service: name, namespace, port, ...(addressType ? { addressType } : {}) }));
}
