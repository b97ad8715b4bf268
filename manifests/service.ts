// The Knative Service of one function: autoscaling, probes, env, hardened container.
import type { FunctionDeclaration } from '#shared/function/define';
import { DEFAULT_DATABASE_POOL, type ProbeDeclaration } from '#shared/function/runtime';
import { databaseEnv } from './database-env.js';
import { functionLabels } from './names.js';
import { serviceUrl, type ManifestOptions } from './options.js';

export type EnvVar =
  | { name: string; value: string }
  | { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional?: boolean } } };

/**
 * Env of the container: the function's name, its database (through the Pooler) and pool size, its
 * Node flags, then its declared variables by name.
 */
export function containerEnv(decl: FunctionDeclaration, opts: ManifestOptions): { env: EnvVar[]; warnings: string[] } {
  const env: EnvVar[] = [
    { name: 'ZENO_FUNCTION', value: decl.name },
    ...databaseEnv(opts, { pooled: true, pool: decl.runtime?.databasePool ?? DEFAULT_DATABASE_POOL }),
  ];
  if (opts.baseUrl !== undefined) env.push({ name: 'ZENO_BASE_URL', value: opts.baseUrl });
  if (decl.runtime?.nodeOptions) env.push({ name: 'NODE_OPTIONS', value: decl.runtime.nodeOptions.trim().split(/\s+/).join(' ') });
  const warnings: string[] = [];
  for (const key of Object.keys(decl.env ?? {}).sort()) {
    const spec = decl.env![key]!;
    if (spec.secret) {
      const ref = { name: spec.secret.name, key: spec.secret.key, ...(spec.required ? {} : { optional: true }) };
      env.push({ name: key, valueFrom: { secretKeyRef: ref } });
    } else if (spec.service) {
      env.push({ name: key, value: serviceUrl(spec.service, opts) });
    } else if (spec.value !== undefined) {
      env.push({ name: key, value: spec.value });
    } else if (spec.required) {
      warnings.push(`${decl.name}: env ${key} is required but has no value or secret; set it in an overlay`);
    }
  }
  return { env, warnings };
}

type Resources = ManifestOptions['resources'];

/** The declared requests and limits over the generator's defaults, key by key. */
export function containerResources(decl: FunctionDeclaration, defaults: Resources): Resources {
  const declared = decl.runtime?.resources;
  return {
    requests: { ...defaults.requests, ...declared?.requests },
    limits: { ...defaults.limits, ...declared?.limits },
  };
}

/**
 * An HTTP probe: the declared fields over the defaults. Knative probes the container port itself,
 * so no port is given; a readiness probe without `periodSeconds` is probed aggressively by Knative's
 * queue-proxy until the first success (fast cold starts), which is why none is set by default.
 * @see https://knative.dev/docs/serving/services/configure-probing/
 */
export function httpProbe(declared: ProbeDeclaration | undefined, defaults: ProbeDeclaration & { path: string }, extra: Record<string, number>, port?: string): Record<string, unknown> {
  const { path, ...timing } = { ...defaults, ...declared };
  return { httpGet: port === undefined ? { path } : { path, port }, ...extra, ...timing };
}

/** The hardened container every function runs in (Knative Service or Deployment alike). */
export const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const READINESS = { path: '/readyz', failureThreshold: 3 };
const LIVENESS = { path: '/healthz', periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 };

/**
 * `serving.knative.dev/v1` Service. Cluster-local: only the Gateway's HTTPRoute exposes it.
 * @see https://knative.dev/docs/serving/autoscaling/scale-bounds/
 * @see https://knative.dev/docs/serving/services/private-services/
 */
export function knativeService(decl: FunctionDeclaration, opts: ManifestOptions, env: EnvVar[]): Record<string, unknown> {
  const s = decl.scaling;
  const annotations: Record<string, string> = {
    'autoscaling.knative.dev/min-scale': String(s.minScale),
    'autoscaling.knative.dev/max-scale': String(s.maxScale),
  };
  if (s.target !== undefined) annotations['autoscaling.knative.dev/target'] = String(s.target);
  // Scale-to-zero functions start on demand; the long-running exceptions never stop.
  if (decl.longRunning) annotations['autoscaling.knative.dev/initial-scale'] = String(s.minScale);
  const labels = functionLabels(decl, opts.version);
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: {
      name: decl.name,
      labels: { ...labels, 'networking.knative.dev/visibility': 'cluster-local' },
      annotations: { 'zenokube.io/description': decl.description },
    },
    spec: {
      template: {
        metadata: { labels, annotations },
        spec: {
          containerConcurrency: s.containerConcurrency,
          timeoutSeconds: s.timeoutSeconds,
          enableServiceLinks: false,
          // An operator runs as its own service account (manifests/operator.ts); the others keep the default.
          ...(decl.kubernetes ? { serviceAccountName: decl.name } : {}),
          containers: [
            {
              name: 'function',
              image: opts.image,
              args: ['fn'],
              ports: [{ name: 'http1', containerPort: 8080 }],
              env,
              resources: containerResources(decl, opts.resources),
              readinessProbe: httpProbe(decl.runtime?.probes?.readiness, READINESS, { successThreshold: 1 }),
              livenessProbe: httpProbe(decl.runtime?.probes?.liveness, LIVENESS, {}),
              securityContext: CONTAINER_SECURITY,
            },
          ],
        },
      },
    },
  };
}
