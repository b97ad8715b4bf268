// The resources the controller watches, with their API paths and where they go in a ResourceSet.
import { CLIENT_CA_OPTION } from '../engine/listeners.js';
import { indexResources, referenceAllowed } from '../engine/references.js';
import type { ResourceSet } from '../engine/resources.js';
import { GATEWAY_GROUP, emptyResourceSet, nsOf } from '../engine/resources.js';

export interface Watched {
  key: keyof ResourceSet | 'gatewayClasses';
  apiVersion: string;
  kind: string;
  /** Cluster-wide collection path (list + watch). */
  path: string;
  /**
   * `referenced`: never listed cluster-wide; one watch per object the Gateways name, in its
   * namespace, with `fieldSelector=metadata.name=<name>` (see referencedSecrets).
   */
  scope?: 'referenced';
  /** An experimental kind whose CRD a cluster may not have installed: not watched when the API server does not serve it. */
  optional?: boolean;
}

export const WATCHED: Watched[] = [
  { key: 'gatewayClasses', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', path: '/apis/gateway.networking.k8s.io/v1/gatewayclasses' },
  { key: 'gateways', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', path: '/apis/gateway.networking.k8s.io/v1/gateways' },
  { key: 'routes', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', path: '/apis/gateway.networking.k8s.io/v1/httproutes' },
  { key: 'grpcRoutes', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', path: '/apis/gateway.networking.k8s.io/v1/grpcroutes' },
  { key: 'tlsRoutes', apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'TLSRoute', path: '/apis/gateway.networking.k8s.io/v1alpha2/tlsroutes', optional: true },
  { key: 'backendTLSPolicies', apiVersion: 'gateway.networking.k8s.io/v1alpha3', kind: 'BackendTLSPolicy', path: '/apis/gateway.networking.k8s.io/v1alpha3/backendtlspolicies', optional: true },
  { key: 'grants', apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', path: '/apis/gateway.networking.k8s.io/v1beta1/referencegrants' },
  { key: 'services', apiVersion: 'v1', kind: 'Service', path: '/api/v1/services' },
  { key: 'endpointSlices', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices' },
  { key: 'secrets', apiVersion: 'v1', kind: 'Secret', path: '/api/v1/secrets', scope: 'referenced' },
  { key: 'configMaps', apiVersion: 'v1', kind: 'ConfigMap', path: '/api/v1/configmaps', scope: 'referenced' },
  { key: 'namespaces', apiVersion: 'v1', kind: 'Namespace', path: '/api/v1/namespaces' },
  { key: 'extAuthFilters', apiVersion: 'ingress.zenokube.io/v1alpha1', kind: 'ExtAuthFilter', path: '/apis/ingress.zenokube.io/v1alpha1/extauthfilters' },
];

/** Object path of a namespaced (or cluster-scoped) object in a watched collection. */
export function objectPath(w: Watched, namespace: string | undefined, name: string): string {
  const [prefix, plural] = [w.path.slice(0, w.path.lastIndexOf('/')), w.path.slice(w.path.lastIndexOf('/') + 1)];
  return namespace ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}` : `${w.path}/${encodeURIComponent(name)}`;
}

/** Collection path of a watched resource in one namespace. */
export function namespacedPath(w: Watched, namespace: string): string {
  const [prefix, plural] = [w.path.slice(0, w.path.lastIndexOf('/')), w.path.slice(w.path.lastIndexOf('/') + 1)];
  return `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

/**
 * The Secrets (`namespace/name`) the controller watches: the certificateRefs of the listeners of
 * the Gateways it serves (in another namespace only when a ReferenceGrant there allows it, so a
 * Gateway cannot make the controller read a Secret it may not use), the client certificate CA
 * Secret a listener's `tls.options` names (in the Gateway's own namespace), and the clientSecretRef of
 * every ExtAuthFilter (always in the filter's own namespace). No other Secret is listed or cached.
 */
export function referencedSecrets(set: Pick<ResourceSet, 'gateways' | 'grants' | 'extAuthFilters'>): Set<string> {
  const index = indexResources({ ...emptyResourceSet(), grants: set.grants });
  const out = new Set<string>();
  for (const gw of set.gateways) {
    for (const l of gw.spec?.listeners ?? []) {
      for (const ref of l.tls?.certificateRefs ?? []) {
        if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') continue;
        const namespace = ref.namespace ?? nsOf(gw);
        if (referenceAllowed(index, { group: GATEWAY_GROUP, kind: 'Gateway', namespace: nsOf(gw) }, { group: '', kind: 'Secret', namespace, name: ref.name })) out.add(`${namespace}/${ref.name}`);
      }
      const ca = l.tls?.options?.[CLIENT_CA_OPTION];
      if (ca) out.add(`${nsOf(gw)}/${ca}`);
    }
  }
  for (const f of set.extAuthFilters) if (f.spec?.clientSecretRef?.name) out.add(`${nsOf(f)}/${f.spec.clientSecretRef.name}`);
  return out;
}

/**
 * The ConfigMaps (`namespace/name`) the controller watches: those the BackendTLSPolicies name as
 * caCertificateRefs, in the policy's own namespace. No other ConfigMap is listed or cached.
 */
export function referencedConfigMaps(set: Pick<ResourceSet, 'backendTLSPolicies'>): Set<string> {
  const out = new Set<string>();
  for (const p of set.backendTLSPolicies) {
    for (const ref of p.spec?.validation?.caCertificateRefs ?? []) if ((ref.group ?? '') === '' && (ref.kind ?? 'ConfigMap') === 'ConfigMap') out.add(`${nsOf(p)}/${ref.name}`);
  }
  return out;
}

/** The coordination.k8s.io/v1 Lease the replicas elect their status writer on, in their own namespace. */
export const LEADER_LEASE_NAME = 'zenokube-ingress-leader';
