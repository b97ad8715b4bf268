// One Knative Trigger per subscription: exact-match attribute filter, subscriber, delivery.
import { RETRY_DEFAULTS } from '#shared/events/backoff';
import type { FunctionDeclaration, SubscriptionDeclaration } from '#shared/function/define';
import { DEAD_LETTER_PATH } from '#shared/events/dead-letter';
import { triggerFilters } from '#shared/function/subscriptions';
import { childName, eventSlug, functionLabels } from './names.js';
import type { ObjectRef, ManifestOptions } from './options.js';

/** Defaults shared with the local broker (see SubscriptionDeclaration). */
export const DELIVERY_DEFAULTS = { ...RETRY_DEFAULTS, path: '/_events' } as const;

export const serviceRef = (name: string): ObjectRef => ({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name });

/** Trigger name: function and event type; a filtered twin gets a hash of its filters. */
function triggerName(decl: FunctionDeclaration, sub: SubscriptionDeclaration): string {
  const filters = Object.entries(sub.filters ?? {}).sort();
  if (!filters.length) return childName(decl.name, eventSlug(sub.type));
  const tag = filters.map(([k, v]) => `${k}=${v}`).join(',');
  return childName(decl.name, eventSlug(sub.type), `f${shortHash(tag)}`);
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * `eventing.knative.dev/v1` Trigger. Filter attributes are exact matches, ANDed.
 * @see https://knative.dev/docs/eventing/triggers/
 * @see https://knative.dev/docs/eventing/event-delivery/
 */
export function trigger(
  decl: FunctionDeclaration,
  sub: SubscriptionDeclaration,
  opts: ManifestOptions,
  deadLetter: ObjectRef | undefined,
): Record<string, unknown> {
  // `type` first, then the other attributes by name (stable output).
  const filters = triggerFilters(decl, sub);
  const attributes: Record<string, string> = { type: filters.type! };
  for (const [k, v] of Object.entries(filters).sort(([a], [b]) => a.localeCompare(b))) if (k !== 'type') attributes[k] = v;
  const delivery: Record<string, unknown> = {
    retry: sub.retry ?? DELIVERY_DEFAULTS.retry,
    backoffPolicy: sub.backoffPolicy ?? DELIVERY_DEFAULTS.backoffPolicy,
    backoffDelay: sub.backoffDelay ?? DELIVERY_DEFAULTS.backoffDelay,
  };
  if (deadLetter && sub.deadLetter !== false) delivery.deadLetterSink = { ref: deadLetter, uri: DEAD_LETTER_PATH };
  return {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name: triggerName(decl, sub), labels: functionLabels(decl, opts.version) },
    spec: {
      broker: opts.broker,
      filter: { attributes },
      subscriber: { ref: serviceRef(decl.name), uri: sub.path ?? DELIVERY_DEFAULTS.path },
      delivery,
    },
  };
}
