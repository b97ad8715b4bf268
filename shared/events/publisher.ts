// The producer side of events: what a function's code calls to emit a CloudEvent.
// Implemented in ./outbox.ts; declared here so that the function contract does not import it.
import type { Queryable } from '#shared/db/index';

/** An event about to be emitted; the platform fills id, source, time and specversion. */
export interface OutgoingEvent {
  /** `io.zenokube.<product>.<noun>.<past-verb>`, listed in the eventing catalog. */
  type: string;
  /** JSON payload, validated against the catalog schema of `type`. */
  data: Record<string, unknown>;
  subject?: string;
  /** Set to make emission idempotent (e.g. derived from the state change's id). */
  id?: string;
}

export interface EventPublisher {
  /**
   * Writes the event to the product's outbox inside `tx`, the same transaction as the
   * state change it announces: the event exists if and only if the change committed.
   * Returns the event id.
   */
  emit(tx: Queryable, event: OutgoingEvent): Promise<string>;
}
