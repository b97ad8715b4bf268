// The resources the controller watches, with their API paths and where they go in a ResourceSet.
import type { ResourceSet } from '../engine/resources.js';

export interface Watched {
  key: keyof ResourceSet | 'gatewayClasses';
  apiVersion: string;
  kind: string;
  /** Cluster-wide collection path (list + watch). */
  path: string;
}

export const WATCHED: Watched[] = [
  { key: 'gatewayClasses', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', path: '/apis/gateway.networking.k8s.io/v1/gatewayclasses' },
  { key: 'gateways', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', path: '/apis/gateway.networking.k8s.io/v1/gateways' },
  { key: 'routes', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', path: '/apis/gateway.networking.k8s.io/v1/httproutes' },
  { key: 'grants', apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', path: '/apis/gateway.networking.k8s.io/v1beta1/referencegrants' },
  { key: 'services', apiVersion: 'v1', kind: 'Service', path: '/api/v1/services' },
  { key: 'endpointSlices', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices' },
  { key: 'secrets', apiVersion: 'v1', kind: 'Secret', path: '/api/v1/secrets' },
  { key: 'namespaces', apiVersion: 'v1', kind: 'Namespace', path: '/api/v1/namespaces' },
  { key: 'extAuthFilters', apiVersion: 'ingress.zenokube.io/v1alpha1', kind: 'ExtAuthFilter', path: '/apis/ingress.zenokube.io/v1alpha1/extauthfilters' },
];

/** Object path of a namespaced (or cluster-scoped) object in a watched collection. */
export function objectPath(w: Watched, namespace: string | undefined, name: string): string {
  const [prefix, plural] = [w.path.slice(0, w.path.lastIndexOf('/')), w.path.slice(w.path.lastIndexOf('/') + 1)];
  return namespace ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}` : `${w.path}/${encodeURIComponent(name)}`;
}
