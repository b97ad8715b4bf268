// Cross-namespace references and backend resolution: ReferenceGrant, Service, EndpointSlice.
// @see https://gateway-api.sigs.k8s.io/api-types/referencegrant/
import type { BackendObjectReference, EndpointSlice, ReferenceGrant, ResourceSet, Service } from './resources.js';
import { GATEWAY_GROUP, nsOf } from './resources.js';
import { RouteReason } from './conditions.js';
import type { BackendTlsPolicies, UpstreamTls } from './backend-tls.js';
import { indexBackendTlsPolicies } from './backend-tls.js';

export interface Endpoint {
  host: string;
  port: number;
  /** Set when a BackendTLSPolicy targets the endpoint's Service: the proxy speaks TLS to it. */
  tls?: UpstreamTls;
}


/**
 * Service port appProtocols that mean HTTP/2 over cleartext to the backend (Gateway API's
 * `kubernetes.io/h2c`, and `http2` as several implementations also read it).
 * @see https://gateway-api.sigs.k8s.io/guides/backend-protocol/
 */
const H2C = new Set(['kubernetes.io/h2c', 'http2', 'h2c']);

type ResolvedBackend =
  | { ok: true; namespace: string; name: string; port: number; portName: string; endpoints: Endpoint[]; h2c: boolean }
  | { ok: false; reason: string; message: string };

/** Indexes of a resource set, built once per compilation. */
export interface ResourceIndex {
  services: Map<string, Service>;
  slicesByService: Map<string, EndpointSlice[]>;
  grantsByNamespace: Map<string, ReferenceGrant[]>;
  backendTls: BackendTlsPolicies;
}

export function indexResources(set: ResourceSet): ResourceIndex {
  const services = new Map(set.services.map((s) => [`${nsOf(s)}/${s.metadata.name}`, s]));
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of set.endpointSlices) {
    const svc = slice.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const key = `${nsOf(slice)}/${svc}`;
    const list = slicesByService.get(key) ?? [];
    list.push(slice);
    slicesByService.set(key, list);
  }
  const grantsByNamespace = new Map<string, ReferenceGrant[]>();
  for (const g of set.grants) {
    const list = grantsByNamespace.get(nsOf(g)) ?? [];
    list.push(g);
    grantsByNamespace.set(nsOf(g), list);
  }
  return { services, slicesByService, grantsByNamespace, backendTls: indexBackendTlsPolicies(set) };
}

/**
 * Whether a ReferenceGrant in the target namespace allows `from` to reference `to`.
 * "A reference to a resource in a different namespace is only valid if a ReferenceGrant
 * in the target namespace explicitly allows it."
 */
export function referenceAllowed(
  index: ResourceIndex,
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  if (from.namespace === to.namespace) return true;
  for (const grant of index.grantsByNamespace.get(to.namespace) ?? []) {
    const spec = grant.spec;
    if (!spec) continue;
    const fromOk = spec.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace);
    if (!fromOk) continue;
    const toOk = spec.to.some((t) => (t.group ?? '') === to.group && t.kind === to.kind && (!t.name || t.name === to.name));
    if (toOk) return true;
  }
  return false;
}

/** Resolves a route's backendRef to endpoint addresses, or says why it cannot; `routeKind` is the kind a ReferenceGrant must name. */
export function resolveBackend(index: ResourceIndex, routeNamespace: string, ref: BackendObjectReference, routeKind: 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' = 'HTTPRoute'): ResolvedBackend {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  if (group !== '' || kind !== 'Service') {
    return { ok: false, reason: RouteReason.InvalidKind, message: `backendRef kind ${group}/${kind} is not supported` };
  }
  const namespace = ref.namespace ?? routeNamespace;
  const allowed = referenceAllowed(
    index,
    { group: GATEWAY_GROUP, kind: routeKind, namespace: routeNamespace },
    { group: '', kind: 'Service', namespace, name: ref.name },
  );
  if (!allowed) {
    return { ok: false, reason: RouteReason.RefNotPermitted, message: `no ReferenceGrant allows a reference to Service ${namespace}/${ref.name}` };
  }
  const svc = index.services.get(`${namespace}/${ref.name}`);
  if (!svc) return { ok: false, reason: RouteReason.BackendNotFound, message: `Service ${namespace}/${ref.name} not found` };
  if (ref.port === undefined) return { ok: false, reason: RouteReason.BackendNotFound, message: 'backendRef port is required for a Service' };
  const svcPort = svc.spec?.ports?.find((p) => p.port === ref.port);
  if (!svcPort && svc.spec?.type !== 'ExternalName') {
    return { ok: false, reason: RouteReason.BackendNotFound, message: `Service ${namespace}/${ref.name} has no port ${ref.port}` };
  }
  return { ok: true, namespace, name: ref.name, port: ref.port, portName: svcPort?.name ?? '', endpoints: endpointsOf(index, svc, svcPort, ref.port), h2c: H2C.has(svcPort?.appProtocol ?? '') };
}

function endpointsOf(index: ResourceIndex, svc: Service, svcPort: { name?: string; targetPort?: number | string } | undefined, port: number): Endpoint[] {
  if (svc.spec?.type === 'ExternalName' && svc.spec.externalName) return [{ host: svc.spec.externalName, port }];
  const slices = index.slicesByService.get(`${nsOf(svc)}/${svc.metadata.name}`);
  if (!slices) {
    // No EndpointSlice: route to the cluster IP (kube-proxy's virtual address) when there is one.
    const ip = svc.spec?.clusterIP;
    return ip && ip !== 'None' ? [{ host: ip, port }] : [];
  }
  const out: Endpoint[] = [];
  for (const slice of slices) {
    // EndpointSlice ports carry the Service port's name; an unnamed Service port is "".
    const p = slice.ports?.find((sp) => (sp.name ?? '') === (svcPort?.name ?? '')) ?? (slice.ports?.length === 1 ? slice.ports[0] : undefined);
    const target = p?.port ?? (typeof svcPort?.targetPort === 'number' ? svcPort.targetPort : port);
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const addr of ep.addresses) out.push({ host: addr, port: target });
    }
  }
  return out;
}
