// A catalog: event types by name, with the checks the publisher and the receiver use.
import type { OutgoingEvent } from '#shared/events/publisher';
import type { EventSchemas } from '#shared/events/schemas';
import type { EventTypeDefinition } from './define.js';

/** The checks the platform runs (EventSchemas), over a list of event types. */
export interface EventCatalog extends EventSchemas {
  readonly types: readonly EventTypeDefinition[];
  find(type: string): EventTypeDefinition | undefined;
}

/** Builds a catalog from definitions; a type listed twice is an error. */
export function createCatalog(definitions: readonly EventTypeDefinition[]): EventCatalog {
  const byType = new Map<string, EventTypeDefinition>();
  for (const def of definitions) {
    if (byType.has(def.type)) throw new TypeError(`event type ${def.type} is listed twice in the catalog`);
    byType.set(def.type, def);
  }
  const types = Object.freeze([...byType.values()]);
  return Object.freeze({
    types,
    find: (type: string) => byType.get(type),
    checkOutgoing(event: OutgoingEvent): void {
      const def = byType.get(event.type);
      if (!def) throw new TypeError(`event type ${event.type} is not in the event catalog`);
      const result = def.schema.safeParse(event.data);
      if (!result.success) {
        const first = result.error.issues[0];
        throw new TypeError(`event ${event.type}: payload does not match the catalog (${first?.path.join('.') || '(root)'}: ${first?.message})`);
      }
    },
    parse(type: string, data: unknown) {
      const def = byType.get(type);
      if (!def) return { ok: false as const, problems: [{ path: '(type)', message: `unknown event type ${type}` }] };
      const result = def.schema.safeParse(data);
      if (result.success) return { ok: true as const, data: result.data };
      return {
        ok: false as const,
        problems: result.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
      };
    },
  });
}
