// A long-running function in a cluster (the vault unsealer): a Deployment behind a ClusterIP
// Service, a PodDisruptionBudget and a NetworkPolicy, never a Knative Service. A Knative revision
// change would start a sealed replica and retire the unsealed one; scale-down would zero its key.
// The core objects are typed with client-node's models so that a misspelt field fails to compile.
import type { V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import type { FunctionDeclaration } from '#shared/function/define';
import { functionLabels } from './names.js';
import type { ManifestOptions } from './options.js';
import type { EnvVar } from './service.js';
import { CONTAINER_SECURITY, containerResources, httpProbe } from './service.js';

/** The container port, as a Knative function gets it (`PORT`). */
const HTTP_PORT = 8080;
/**
 * Seconds a terminating replica keeps serving before it is signalled: the endpoint controllers and
 * every node's proxy drop it from the Service meanwhile, so no new call reaches a replica whose keys
 * are about to be zeroed. The api retries the few that still do (functions/vault/api/unsealer-client.ts).
 */
const PRE_STOP_SLEEP_SECONDS = 5;
/** Label an operator's pod carries to reach the unsealer directly (`zenokube vault status`, unseal). */
const OPERATOR_LABEL = 'zenokube.io/vault-operator';

/** What the Deployment, Service, budget and policy select: stable across versions. */
function selectorOf(decl: FunctionDeclaration): Record<string, string> {
  return { 'app.kubernetes.io/name': decl.name, 'app.kubernetes.io/part-of': 'zenokube' };
}

/**
 * `apps/v1` Deployment, rolled surge-first: a new replica starts next to the old ones and only
 * once it is ready (for the unsealer: unsealed, by transit auto-unseal or by key shares) is an old
 * one retired, so a rollout never leaves fewer ready replicas than before. A StatefulSet would
 * delete a replica before starting its successor; the unsealer keeps nothing on disk (its state is
 * in PostgreSQL) and needs no stable identity, so the Deployment's surge is the better fit.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment
 */
function deployment(decl: FunctionDeclaration, opts: ManifestOptions, env: EnvVar[]): Record<string, unknown> {
  const labels = functionLabels(decl, opts.version);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: decl.name, labels, annotations: { 'zenokube.io/description': decl.description } },
    spec: {
      replicas: decl.scaling.minScale,
      selector: { matchLabels: selectorOf(decl) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels },
        spec: {
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: PRE_STOP_SLEEP_SECONDS + decl.scaling.timeoutSeconds,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'function',
              image: opts.image,
              args: ['fn'],
              // `http1`, as the functions name theirs: the functions' PodMonitor scrapes it.
              ports: [{ name: 'http1', containerPort: HTTP_PORT }],
              // K_SERVICE and PORT as Knative sets them: the platform reads K_SERVICE as "in a cluster"
              // (shared secrets required, no per-pod key generated).
              env: [{ name: 'K_SERVICE', value: decl.name }, { name: 'PORT', value: String(HTTP_PORT) }, ...env],
              resources: containerResources(decl, opts.resources),
              // /readyz includes the function's own checks: for the unsealer, "unsealed". Declared
              // probe settings apply over these defaults.
              readinessProbe: httpProbe(decl.runtime?.probes?.readiness, { path: '/readyz', periodSeconds: 2, failureThreshold: 1 }, { successThreshold: 1 }, 'http1'),
              livenessProbe: httpProbe(decl.runtime?.probes?.liveness, { path: '/healthz', periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 }, {}, 'http1'),
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
              securityContext: CONTAINER_SECURITY,
            },
          ],
        },
      },
    },
  } satisfies V1Deployment;
}

/**
 * `v1` Service of type ClusterIP on port 80 (what the HTTPRoute and the callers address): its
 * endpoints are the ready replicas only. Replicas that are not ready still appear in its
 * EndpointSlices (`ready: false`), which is how `zenokube vault status` finds every one.
 */
function service(decl: FunctionDeclaration, opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: decl.name, labels: functionLabels(decl, opts.version) },
    spec: {
      type: 'ClusterIP',
      selector: selectorOf(decl),
      ports: [{ name: 'http', port: 80, targetPort: 'http1', protocol: 'TCP' }],
    },
  } satisfies V1Service;
}

/**
 * `policy/v1` PodDisruptionBudget: a node drain evicts a replica only while another one is ready
 * (for the unsealer: unsealed), so voluntary disruptions never take the last unsealed replica.
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/
 */
function disruptionBudget(decl: FunctionDeclaration, opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: decl.name, labels: functionLabels(decl, opts.version) },
    spec: { minAvailable: 1, selector: { matchLabels: selectorOf(decl) } },
  } satisfies V1PodDisruptionBudget;
}

/**
 * `networking.k8s.io/v1` NetworkPolicy: only the functions that declare this Service's URL
 * (`EnvDeclaration.service`), the ingress (the public routes of the function, through the
 * Gateway) and operators' pods labelled `zenokube.io/vault-operator: "true"` in this namespace
 * reach the port. Probes come from the node and are not subject to it. (Not typed with client-node's
 * model, which names the wire field `from` as `_from`.)
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
function networkPolicy(decl: FunctionDeclaration, opts: ManifestOptions, callers: readonly string[], ingressLabels: Record<string, string>): Record<string, unknown> {
  const from: Record<string, unknown>[] = callers.map((name) => ({ podSelector: { matchLabels: { 'app.kubernetes.io/name': name } } }));
  if (decl.routes.length > 0) {
    from.push({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opts.gateway.namespace } },
      podSelector: { matchLabels: ingressLabels },
    });
  }
  from.push({ podSelector: { matchLabels: { [OPERATOR_LABEL]: 'true' } } });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: decl.name, labels: functionLabels(decl, opts.version) },
    spec: {
      podSelector: { matchLabels: selectorOf(decl) },
      policyTypes: ['Ingress'],
      ingress: [{ from, ports: [{ protocol: 'TCP', port: HTTP_PORT }] }],
    },
  };
}

/** The functions whose declared env takes `decl`'s Service URL: the ones allowed to call it. */
export function callersOf(decl: FunctionDeclaration, all: readonly FunctionDeclaration[]): string[] {
  return all.filter((d) => Object.values(d.env ?? {}).some((e) => e.service === decl.name)).map((d) => d.name).sort();
}

/**
 * The objects of a long-running function in apply order. `ingressLabels` select the ingress pods
 * (manifests/ingress.ts), which carry the function's public routes.
 */
export function workloadManifests(
  decl: FunctionDeclaration,
  opts: ManifestOptions,
  env: EnvVar[],
  callers: readonly string[],
  ingressLabels: Record<string, string>,
): Record<string, unknown>[] {
  return [deployment(decl, opts, env), service(decl, opts), disruptionBudget(decl, opts), networkPolicy(decl, opts, callers, ingressLabels)];
}
