// How a scheduled event reaches a function in a cluster: a Knative PingSource always sends type
// `dev.knative.sources.ping`, so the generated PingSource carries the declared type in an
// extension attribute, and the receiver reads the event as that type.
// @see https://knative.dev/docs/eventing/sources/ping-source/

/** The fixed CloudEvents `type` of every PingSource event. */
export const PING_SOURCE_TYPE = 'dev.knative.sources.ping';

/** Extension attributes set through the PingSource's `ceOverrides` (CloudEvents 1.0 §3.1.1 names). */
export const SCHEDULE_EXTENSIONS = { type: 'zenotype', schedule: 'zenoschedule' } as const;

/** The type a received event stands for: the declared one for a PingSource event, else its own. */
export function effectiveEventType(attributes: Readonly<Record<string, unknown>>): string {
  const declared = attributes[SCHEDULE_EXTENSIONS.type];
  return attributes.type === PING_SOURCE_TYPE && typeof declared === 'string' && declared ? declared : String(attributes.type);
}
