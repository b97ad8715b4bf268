// ZenoIngress's public entry: what code outside functions/ingress may use (the Gateway API
// resource types, the compiler and matcher, the running proxy, the status report). Loading it
// loads neither prom-client nor @kubernetes/client-node: the processes that need them start from
// the entries named in .dependency-cruiser.cjs (heap.ts, standalone.ts, in-cluster.ts, ...).
export type {
  EndpointSlice,
  Gateway,
  HTTPRoute,
  Namespace,
  ResourceSet,
  Secret,
  Service,
} from './engine/resources.js';
export { emptyResourceSet, keyOf, nsOf } from './engine/resources.js';
export type { Endpoint } from './engine/references.js';
export type { CompiledConfig } from './engine/compile.js';
export { compile } from './engine/compile.js';
export type { MatchRequest } from './engine/match.js';
export { matchRequest } from './engine/match.js';
export { normalizePath } from './engine/path.js';
export type { HostTable } from './engine/table.js';
export { CONTROLLER_NAME } from './engine/conditions.js';
export { statusJson, statusProblems } from './status-report.js';
export { parseManifests } from './source/parse.js';
export { readDirectory, watchDirectory } from './source/directory.js';
export type { Ingress, IngressOptions } from './runtime.js';
export { createIngress } from './runtime.js';
export { createExtAuth } from './ext-auth/decider.js';
export { LEADER_LEASE_NAME, WATCHED } from './controller/watched.js';
// Types only (erased): their modules load prom-client or the Kubernetes client.
export type { StandaloneIngress } from './standalone.js';
export type { KubeController } from './controller/controller.js';
export { MAX_PIPELINED } from './proxy/connection.js';
