// The manifest generator's public entry: knative/ (Knative Services, Triggers, SinkBindings,
// PingSources, HTTPRoutes, the ingress and the platform objects) from the function declarations.
// `zenokube manifests` (cli/manifests.ts) and the local cluster's gateway build on it.
export type { GeneratedManifests, Manifest } from './generate.js';
export { functionManifests, generateManifests } from './generate.js';
export { checkDeclarations, ManifestError, pathProblems } from './check.js';
export { cronProblems } from './cron.js';
export type { ManifestOptions, ObjectRef } from './options.js';
export { DATABASE_CLUSTER, DEFAULT_NAMESPACE, defaultOptions } from './options.js';
export { httpRoute } from './http-route.js';
export { gateway, gatewayClass, HTTP_LISTENER_PORT, INGRESS_NAME, INGRESS_PORT_OFFSET } from './ingress.js';
export { listYaml, staleFiles, writeManifests } from './write.js';
export { packageVersion, readCrds } from './project.js';
