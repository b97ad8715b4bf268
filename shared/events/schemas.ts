// What the platform needs of the event catalog (eventing/catalog.ts): the publisher's check and the
// receiver's parse. shared/ holds only this shape, so the kit never imports the products' event
// list; whoever hosts a function hands it the catalog.
import type { OutgoingEvent } from './publisher.js';

export interface EventSchemas {
  /**
   * The publisher's check: the type is listed and the payload matches its schema.
   * Misuse by our own code, so a TypeError (it surfaces as a 500 and rolls the change back).
   */
  checkOutgoing(event: OutgoingEvent): void;
  /** Validates a received payload; returns the parsed value or the list of problems. */
  parse(type: string, data: unknown): { ok: true; data: unknown } | { ok: false; problems: { path: string; message: string }[] };
}

/** The schemas, or a loader called only when they are needed (a cold start then skips them). */
export type EventSchemasSource = EventSchemas | (() => Promise<EventSchemas>);

/** Resolves a source; undefined stays undefined. */
export async function resolveEventSchemas(source: EventSchemasSource | undefined): Promise<EventSchemas | undefined> {
  return typeof source === 'function' ? await source() : source;
}
