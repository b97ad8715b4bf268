// The Kubernetes resources the ingress reads, reduced to the fields it uses (Gateway API v1.2).
// @see https://gateway-api.sigs.k8s.io/reference/spec/

interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
}

export interface Resource<K extends string = string, S = unknown> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec?: S;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface ListenerSpec {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  /** `options` are implementation-specific (ours: the client certificate, see listeners.ts). */
  tls?: { mode?: 'Terminate' | 'Passthrough'; certificateRefs?: SecretObjectReference[]; options?: Record<string, string> };
  allowedRoutes?: {
    namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
    kinds?: { group?: string; kind: string }[];
  };
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners: ListenerSpec[];
  addresses?: { type?: string; value: string }[];
}

interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

interface HTTPHeaderMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: string;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HeaderModifier {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface PathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface BackendObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPRouteFilter {
  type: string;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestRedirect?: {
    scheme?: string;
    hostname?: string;
    path?: PathModifier;
    port?: number;
    statusCode?: number;
  };
  urlRewrite?: { hostname?: string; path?: PathModifier };
  requestMirror?: {
    backendRef: BackendObjectReference;
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
  extensionRef?: { group: string; kind: string; name: string };
}

export interface HTTPBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HTTPRouteFilter[];
}

/** GEP-1731 (experimental in v1.2). */
export interface HTTPRouteRetry {
  codes?: number[];
  attempts?: number;
  backoff?: string;
}

/** GEP-1619 (experimental in v1.2). */
export interface SessionPersistence {
  sessionName?: string;
  absoluteTimeout?: string;
  idleTimeout?: string;
  type?: 'Cookie' | 'Header';
  cookieConfig?: { lifetimeType?: 'Permanent' | 'Session' };
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  retry?: HTTPRouteRetry;
  sessionPersistence?: SessionPersistence;
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

/**
 * GRPCRoute (v1): a call is `POST /<service>/<method>`; a match names the service, the method or
 * both, exactly or by regular expression.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.GRPCRoute
 */
interface GRPCMethodMatch {
  type?: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GRPCRouteMatch {
  method?: GRPCMethodMatch;
  headers?: HTTPHeaderMatch[];
}

export interface GRPCRouteRule {
  name?: string;
  matches?: GRPCRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  sessionPersistence?: SessionPersistence;
}

export interface GRPCRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: GRPCRouteRule[];
}

/**
 * TLSRoute (v1alpha2, experimental): routes a TLS connection by the server name of its ClientHello
 * to backends, without terminating it (a listener of protocol TLS, `tls.mode: Passthrough`).
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1alpha2.TLSRoute
 */
interface TLSRouteRule {
  name?: string;
  backendRefs?: HTTPBackendRef[];
}

export interface TLSRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: TLSRouteRule[];
}

/**
 * BackendTLSPolicy (v1alpha3, experimental): how the proxy speaks TLS to the Services it targets.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1alpha3.BackendTLSPolicy
 */
export interface BackendTLSPolicySpec {
  targetRefs?: { group?: string; kind?: string; name: string; sectionName?: string }[];
  validation?: {
    caCertificateRefs?: { group?: string; kind?: string; name: string }[];
    wellKnownCACertificates?: string;
    hostname?: string;
    subjectAltNames?: { type?: 'Hostname' | 'URI'; hostname?: string; uri?: string }[];
  };
  options?: Record<string, string>;
}

export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  externalName?: string;
  ports?: ServicePort[];
}

export interface EndpointSlice extends Resource<'EndpointSlice'> {
  addressType?: string;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean } }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

export interface Secret extends Resource<'Secret'> {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export type Gateway = Resource<'Gateway', GatewaySpec>;
export type HTTPRoute = Resource<'HTTPRoute', HTTPRouteSpec>;
export type GRPCRoute = Resource<'GRPCRoute', GRPCRouteSpec>;
export type TLSRoute = Resource<'TLSRoute', TLSRouteSpec>;
export type BackendTLSPolicy = Resource<'BackendTLSPolicy', BackendTLSPolicySpec>;

export interface ConfigMap extends Resource<'ConfigMap'> {
  data?: Record<string, string>;
}
export type ReferenceGrant = Resource<'ReferenceGrant', ReferenceGrantSpec>;
export type Service = Resource<'Service', ServiceSpec>;
export type Namespace = Resource<'Namespace'>;

/** ExtAuthFilter (ours, crds/ext-auth-filter.yaml). */
export interface ExtAuthFilterSpec {
  url: string;
  mode?: 'http' | 'introspection' | 'jwt';
  issuer?: string;
  audience?: string;
  timeout?: string;
  forwardRequestHeaders?: string[];
  forwardResponseHeaders?: string[];
  cacheTTL?: string;
  cacheSize?: number;
  clientSecretRef?: { name: string; key: string };
  clientId?: string;
}
export type ExtAuthFilter = Resource<'ExtAuthFilter', ExtAuthFilterSpec>;

/** Everything the engine compiles, as plain objects (from YAML or an API server). */
export interface ResourceSet {
  gateways: Gateway[];
  routes: HTTPRoute[];
  grpcRoutes: GRPCRoute[];
  tlsRoutes: TLSRoute[];
  backendTLSPolicies: BackendTLSPolicy[];
  configMaps: ConfigMap[];
  grants: ReferenceGrant[];
  services: Service[];
  endpointSlices: EndpointSlice[];
  secrets: Secret[];
  namespaces: Namespace[];
  extAuthFilters: ExtAuthFilter[];
}

export function emptyResourceSet(): ResourceSet {
  return { gateways: [], routes: [], grpcRoutes: [], tlsRoutes: [], backendTLSPolicies: [], configMaps: [], grants: [], services: [], endpointSlices: [], secrets: [], namespaces: [], extAuthFilters: [] };
}

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const INGRESS_GROUP = 'ingress.zenokube.io';

export const nsOf = (r: { metadata: ObjectMeta }): string => r.metadata.namespace ?? 'default';
export const keyOf = (r: { metadata: ObjectMeta }): string => `${nsOf(r)}/${r.metadata.name}`;
