// The platform's own objects: the Broker, the migration Job and the CloudNativePG cluster.
import { DEAD_LETTER_PATH } from '#shared/events/dead-letter';
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
 * not-ready on /readyz until it has run.
 */
export function migrateJob(opts: ManifestOptions): Record<string, unknown> {
  const db = opts.databaseSecret('zenokube');
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
              env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: db.name, key: db.key } } }],
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

/**
 * `postgresql.cnpg.io/v1` Cluster. CloudNativePG creates the `<name>-app` Secret (key `uri`)
 * for the bootstrap database's owner, and the `<name>-rw` Service that URL points at.
 * @see https://cloudnative-pg.io/documentation/current/applications/
 */
export function databaseCluster(opts: ManifestOptions): Record<string, unknown> {
  const c = opts.databaseCluster;
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name: c.name, labels: platformLabels('database', opts.version) },
    spec: {
      instances: c.instances,
      storage: { size: c.storage },
      bootstrap: { initdb: { database: c.database, owner: c.owner } },
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
