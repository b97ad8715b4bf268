// ZenoIngress's public entry: what code outside functions/ingress may use (the Gateway API
// resource types, the compiler and matcher, the running proxy, the status report). Loading it
// loads neither prom-client nor @kubernetes/client-node: the processes that need them start from
// the entries named in .dependency-cruiser.cjs (heap.ts, standalone.ts, in-cluster.ts, ...).
export type {
  BackendObjectReference,
  EndpointSlice,
  ExtAuthFilter,
  ExtAuthFilterSpec,
  Gateway,
  GatewaySpec,
  HTTPBackendRef,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  HTTPRouteSpec,
  ListenerSpec,
  Namespace,
  ObjectMeta,
  ParentReference,
  ReferenceGrant,
  Resource,
  ResourceSet,
  Secret,
  Service,
  ServiceSpec,
} from './engine/resources.js';
export { emptyResourceSet, keyOf, nsOf, GATEWAY_GROUP, INGRESS_GROUP } from './engine/resources.js';
export type { Endpoint } from './engine/references.js';
export type { CompiledConfig, CompileOptions } from './engine/compile.js';
export { compile } from './engine/compile.js';
export type { MatchRequest } from './engine/match.js';
export { matchRequest } from './engine/match.js';
export { normalizePath } from './engine/path.js';
export type { Candidate, CompiledBackend, CompiledGateway, CompiledRule, HostTable, PortTable } from './engine/table.js';
export type { Condition, StatusReport } from './engine/conditions.js';
export { CONTROLLER_NAME } from './engine/conditions.js';
export { statusJson, statusProblems } from './status-report.js';
export type { ParseProblem } from './source/parse.js';
export { parseManifests } from './source/parse.js';
export type { BindPolicy, Ingress, IngressOptions } from './runtime.js';
export { addressesPolicy, createIngress } from './runtime.js';
export type { ExtAuthOptions } from './ext-auth/decider.js';
export { createExtAuth } from './ext-auth/decider.js';
export type { Watched } from './controller/watched.js';
export { WATCHED } from './controller/watched.js';
export { PROXY_NODE_OPTIONS } from './heap.js';
// Types only (erased): their modules load prom-client or the Kubernetes client.
export type { StandaloneIngress, StandaloneOptions } from './standalone.js';
export type { InClusterOptions } from './in-cluster.js';
export type { KubeController } from './controller/controller.js';
export { MAX_PIPELINED } from './proxy/connection.js';
