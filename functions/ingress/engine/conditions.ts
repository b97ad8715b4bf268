// Status conditions with the reasons the Gateway API defines.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.RouteConditionReason

export interface Condition {
  type: 'Accepted' | 'ResolvedRefs' | 'Programmed' | 'Conflicted' | 'PartiallyInvalid';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
}

export const RouteReason = {
  Accepted: 'Accepted',
  NotAllowedByListeners: 'NotAllowedByListeners',
  NoMatchingListenerHostname: 'NoMatchingListenerHostname',
  NoMatchingParent: 'NoMatchingParent',
  UnsupportedValue: 'UnsupportedValue',
  ResolvedRefs: 'ResolvedRefs',
  RefNotPermitted: 'RefNotPermitted',
  InvalidKind: 'InvalidKind',
  BackendNotFound: 'BackendNotFound',
  UnsupportedProtocol: 'UnsupportedProtocol',
} as const;

export const ListenerReason = {
  Accepted: 'Accepted',
  Programmed: 'Programmed',
  Invalid: 'Invalid',
  ResolvedRefs: 'ResolvedRefs',
  UnsupportedProtocol: 'UnsupportedProtocol',
  InvalidRouteKinds: 'InvalidRouteKinds',
  InvalidCertificateRef: 'InvalidCertificateRef',
  RefNotPermitted: 'RefNotPermitted',
  ProtocolConflict: 'ProtocolConflict',
  HostnameConflict: 'HostnameConflict',
  NoConflicts: 'NoConflicts',
} as const;

export function condition(
  type: Condition['type'],
  ok: boolean,
  reason: string,
  message: string,
  observedGeneration?: number,
): Condition {
  const c: Condition = { type, status: ok ? 'True' : 'False', reason, message };
  if (observedGeneration !== undefined) c.observedGeneration = observedGeneration;
  return c;
}

export interface RouteParentStatus {
  parentRef: { group: string; kind: string; namespace: string; name: string; sectionName?: string; port?: number };
  controllerName: string;
  conditions: Condition[];
}

export interface ListenerStatus {
  name: string;
  attachedRoutes: number;
  supportedKinds: { group: string; kind: string }[];
  conditions: Condition[];
}

export interface GatewayStatus {
  conditions: Condition[];
  listeners: ListenerStatus[];
  addresses?: { type: string; value: string }[];
}

/** A policy's status toward one Gateway it takes effect through (GEP-713 PolicyAncestorStatus). */
export type PolicyAncestorStatus = Omit<RouteParentStatus, 'parentRef'> & { ancestorRef: RouteParentStatus['parentRef'] };

/** The status the engine computed for every object it read, keyed by `namespace/name`. */
export interface StatusReport {
  gateways: Map<string, GatewayStatus>;
  routes: Map<string, { parents: RouteParentStatus[] }>;
  grpcRoutes: Map<string, { parents: RouteParentStatus[] }>;
  tlsRoutes: Map<string, { parents: RouteParentStatus[] }>;
  backendTLSPolicies: Map<string, { ancestors: PolicyAncestorStatus[] }>;
}

export const CONTROLLER_NAME = 'zenokube.io/ingress';
