// The shape of an event catalog entry and of a catalog: type name, version, payload schema.
import type { z } from 'zod';

/** One CloudEvent type: `io.zenokube.<product>.<noun>.<past-verb>` with its payload schema. */
export interface EventTypeDefinition<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** Payload version; a breaking change to `schema` is a new type name, not a new version. */
  readonly version: string;
  readonly description: string;
  readonly schema: S;
}

/** "io.zenokube." + product + "." + noun + "." + past-verb (naming in docs/CONTRIBUTING.md). */
const EVENT_TYPE_NAME = /^io\.zenokube\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;

/** Declares one event type; a malformed name fails at import, not in a cluster. */
export function defineEventType<S extends z.ZodType>(def: EventTypeDefinition<S>): EventTypeDefinition<S> {
  if (!EVENT_TYPE_NAME.test(def.type)) {
    throw new TypeError(`event type "${def.type}" is not io.zenokube.<product>.<noun>.<past-verb>`);
  }
  if (!/^\d+(\.\d+){0,2}$/.test(def.version)) throw new TypeError(`event type ${def.type}: version "${def.version}" is not numeric`);
  return Object.freeze(def);
}

/** The product named in an event type (`io.zenokube.<product>.…`). */
export function productOf(type: string): string | undefined {
  return EVENT_TYPE_NAME.test(type) ? type.split('.')[2] : undefined;
}
