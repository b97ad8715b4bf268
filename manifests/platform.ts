// The platform's own objects: the Broker and the migration Job (the database's are in ./database.ts).
import { DEAD_LETTER_PATH } from '#shared/events/dead-letter';
import { databaseEnv } from './database-env.js';
import { childName, platformLabels } from './names.js';
import type { ManifestOptions, ObjectRef } from './options.js';
import { DELIVERY_DEFAULTS } from './trigger.js';

/**
 * `eventing.knative.dev/v1` Broker that every Trigger subscribes to; its delivery is the default
 * for Triggers that set none.
 * @see https://knative.dev/docs/eventing/brokers/
 */
export function broker(opts: ManifestOptions, deadLetter: ObjectRef | undefined): Record<string, unknown> {
  const delivery: Record<string, unknown> = {
    retry: DELIVERY_DEFAULTS.retry,
    backoffPolicy: DELIVERY_DEFAULTS.backoffPolicy,
    backoffDelay: DELIVERY_DEFAULTS.backoffDelay,
  };
  if (deadLetter) delivery.deadLetterSink = { ref: deadLetter, uri: DEAD_LETTER_PATH };
  return {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Broker',
    metadata: { name: opts.broker, labels: platformLabels('broker', opts.version) },
    spec: { delivery },
  };
}

/**
 * `batch/v1` Job running `zenokube migrate` (advisory-locked, idempotent). Its name carries the
 * version because a Job's pod template is immutable: a new release is a new Job. Functions report
 * not-ready on /readyz until it has run. It connects to the primary, not through the Pooler.
 */
export function migrateJob(opts: ManifestOptions): Record<string, unknown> {
  const labels = platformLabels('migrate', opts.version);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: childName('zenokube-migrate', opts.version.replace(/[^a-z0-9]+/gi, '-')), labels },
    spec: {
      backoffLimit: 6,
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'OnFailure',
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'migrate',
              image: opts.image,
              args: ['migrate'],
              // Straight to the primary: migrations need no pool, and one connection (cli/migrate.ts).
              env: databaseEnv(opts, { pooled: false, pool: 1 }),
              resources: opts.resources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

/** `kustomize.config.k8s.io/v1beta1` Kustomization listing `resources` (paths relative to it). */
export function kustomization(namespace: string, resources: string[]): Record<string, unknown> {
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace,
    resources: [...resources].sort(),
  };
}
