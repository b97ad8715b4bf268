// The manifest generator's public entry: knative/ (Knative Services, Triggers, SinkBindings,
// PingSources, HTTPRoutes, the ingress and the platform objects) from the function declarations.
// `zenokube manifests` (cli/manifests.ts) and the local cluster's gateway build on it.
export type { Manifest } from './generate.js';
export { generateManifests } from './generate.js';
export { checkDeclarations, ManifestError } from './check.js';
export { cronProblems } from './cron.js';
export { checkEventWiring, eventWiringProblems } from './event-wiring.js';
export type { ManifestOptions } from './options.js';
export { defaultOptions } from './options.js';
export { httpRoute } from './http-route.js';
export { gateway, HTTP_LISTENER_PORT, INGRESS_PORT_OFFSET, ingressManifests } from './ingress.js';
export { listYaml, staleFiles, writeManifests } from './write.js';
export { packageVersion, readCrds } from './project.js';
