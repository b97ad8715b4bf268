// Event sources of a function: its SinkBinding (K_SINK) and one PingSource per schedule.
import type { FunctionDeclaration, ScheduleDeclaration } from '#shared/function/define';
import { SCHEDULE_EXTENSIONS } from '#shared/events/schedule';
import { childName, functionLabels } from './names.js';
import type { ManifestOptions } from './options.js';
import { DELIVERY_DEFAULTS, serviceRef } from './trigger.js';

/**
 * `sources.knative.dev/v1` SinkBinding: Knative injects `K_SINK` (the Broker's ingress URL, as
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
      sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: opts.broker } },
    },
  };
}

/**
 * `sources.knative.dev/v1` PingSource. PingSource always sends type `dev.knative.sources.ping`,
 * so it targets the function directly at the path of the declared subscription, and carries the
 * declared type in the `zenotype` extension (and the schedule's name in `zenoschedule`).
 * @see https://knative.dev/docs/eventing/sources/ping-source/
 */
export function pingSource(decl: FunctionDeclaration, sch: ScheduleDeclaration, opts: ManifestOptions): Record<string, unknown> {
  const sub = (decl.subscribes ?? []).find((s) => s.type === sch.type);
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
      sink: { ref: serviceRef(decl.name), uri: sub?.path ?? DELIVERY_DEFAULTS.path },
    },
  };
}
