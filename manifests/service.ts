// The Knative Service of one function: autoscaling, probes, env, hardened container.
import type { FunctionDeclaration } from '#shared/function/define';
import { DEFAULT_DATABASE_POOL, databaseEnv } from './database-env.js';
import { functionLabels } from './names.js';
import type { ManifestOptions } from './options.js';

type EnvVar =
  | { name: string; value: string }
  | { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional?: boolean } } };

/** Env of the container: the function's name, its database (through the Pooler), then its declared variables by name. */
export function containerEnv(decl: FunctionDeclaration, opts: ManifestOptions): { env: EnvVar[]; warnings: string[] } {
  const env: EnvVar[] = [
    { name: 'ZENO_FUNCTION', value: decl.name },
    ...databaseEnv(opts, { pooled: true, pool: decl.runtime?.databasePool ?? DEFAULT_DATABASE_POOL }),
  ];
  const warnings: string[] = [];
  for (const key of Object.keys(decl.env ?? {}).sort()) {
    const spec = decl.env![key]!;
    if (spec.secret) {
      const ref = { name: spec.secret.name, key: spec.secret.key, ...(spec.required ? {} : { optional: true }) };
      env.push({ name: key, valueFrom: { secretKeyRef: ref } });
    } else if (spec.value !== undefined) {
      env.push({ name: key, value: spec.value });
    } else if (spec.required) {
      warnings.push(`${decl.name}: env ${key} is required but has no value or secret; set it in an overlay`);
    }
  }
  return { env, warnings };
}

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
          containers: [
            {
              name: 'function',
              image: opts.image,
              args: ['fn'],
              ports: [{ name: 'http1', containerPort: 8080 }],
              env,
              resources: opts.resources,
              // Knative probes the container port itself; no port is given.
              readinessProbe: { httpGet: { path: '/readyz' }, successThreshold: 1 },
              livenessProbe: { httpGet: { path: '/healthz' }, periodSeconds: 10, failureThreshold: 3 },
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  };
}
