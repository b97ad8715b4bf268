// Event sources of a function: its SinkBinding (K_SINK, only when it emits), one PingSource per
// schedule (into the Broker), and the PingSource that sweeps its product's outbox.
import { OUTBOX_FLUSH_PATH, type FunctionDeclaration, type ScheduleDeclaration } from '#shared/function/define';
import { SCHEDULE_EXTENSIONS } from '#shared/events/schedule';
import { childName, functionLabels } from './names.js';
import type { ManifestOptions } from './options.js';
import { serviceRef } from './trigger.js';

const brokerRef = (opts: ManifestOptions) => ({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: opts.broker });

/**
 * `sources.knative.dev/v1` SinkBinding, for a function that emits: Knative injects `K_SINK` (the Broker's ingress URL, as
 * resolved in the cluster) into the function's pods, and keeps it current if the Broker moves.
 * @see https://knative.dev/docs/eventing/custom-event-source/sinkbinding/
 */
export function sinkBinding(decl: FunctionDeclaration, opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'sources.knative.dev/v1',
    kind: 'SinkBinding',
    metadata: { name: decl.name, labels: functionLabels(decl, opts.version) },
    spec: {
      subject: serviceRef(decl.name),
      sink: { ref: brokerRef(opts) },
    },
  };
}

/**
 * `sources.knative.dev/v1` PingSource into the Broker. PingSource always sends type
 * `dev.knative.sources.ping`, so it carries the declared type in the `zenotype` extension (and the
 * schedule's name in `zenoschedule`), and the subscription's Trigger matches on both
 * (`triggerFilters`): the scheduled event gets the Trigger's retries and dead-letter sink.
 * @see https://knative.dev/docs/eventing/sources/ping-source/
 */
export function pingSource(decl: FunctionDeclaration, sch: ScheduleDeclaration, opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'sources.knative.dev/v1',
    kind: 'PingSource',
    metadata: { name: childName(decl.name, sch.name), labels: functionLabels(decl, opts.version) },
    spec: {
      schedule: sch.schedule.trim().split(/\s+/).join(' '),
      timezone: 'Etc/UTC',
      contentType: 'application/json',
      // The same payload the local PingSource sends when none is declared.
      data: JSON.stringify(sch.data ?? { schedule: sch.name }),
      ceOverrides: { extensions: { [SCHEDULE_EXTENSIONS.type]: sch.type, [SCHEDULE_EXTENSIONS.schedule]: sch.name } },
      sink: { ref: brokerRef(opts) },
    },
  };
}

/** How often a product's outbox is swept in a cluster: leftovers wait at most 5 minutes, and the
 * sweeping function may still scale to zero between sweeps. */
const OUTBOX_SWEEP_SCHEDULE = '*/5 * * * *';

/**
 * `sources.knative.dev/v1` PingSource that calls `POST /_outbox/flush` on one emitting function of
 * a product: a pod starts if none runs (scale from zero), its relay delivers what the product's
 * outbox holds, whichever instance wrote it. Without it, rows left by a pod that scaled to zero
 * wait for the product's next start.
 */
export function outboxSweep(decl: FunctionDeclaration, opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'sources.knative.dev/v1',
    kind: 'PingSource',
    metadata: { name: childName(decl.name, 'outbox-sweep'), labels: functionLabels(decl, opts.version) },
    spec: {
      schedule: OUTBOX_SWEEP_SCHEDULE,
      timezone: 'Etc/UTC',
      contentType: 'application/json',
      data: JSON.stringify({ schedule: 'outbox-sweep' }),
      ceOverrides: { extensions: { [SCHEDULE_EXTENSIONS.schedule]: 'outbox-sweep' } },
      sink: { ref: serviceRef(decl.name), uri: OUTBOX_FLUSH_PATH },
    },
  };
}
