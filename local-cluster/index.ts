// The local cluster's public entry: what Knative and the cluster do for the functions (Services on
// loopback ports, the Gateway and HTTPRoutes, the Broker with its Triggers and PingSources, the
// SinkBinding's $K_SINK), played in one process for `npm start`, the tests and the benchmarks.
export type { RunningStack, StackOptions } from './stack.js';
export { startStack } from './stack.js';
export { createInMemoryGateway } from './in-memory-gateway.js';
export { routesDigest, routesDirOf, routesStatusOf } from './local-routes.js';
