// Triggers: which events go to which subscriber, with what delivery policy (Knative Trigger
// semantics). Locally they come from the function declarations' `subscribes`.
import type { FunctionDeclaration } from '#shared/function/define';
import { triggerFilters } from '#shared/function/subscriptions';
import { parseIsoDuration, RETRY_DEFAULTS, type BackoffPolicy } from '#shared/events/backoff';

export interface Trigger {
  /** Stable local name: `<function>:<type>:<n>` (stored on pending deliveries). */
  readonly name: string;
  readonly broker: string;
  /** Exact-match attribute filters (`type` included); every one must match. */
  readonly filters: Readonly<Record<string, string>>;
  readonly subscriber: string;
  /** `delivery.retry`: retries after the first attempt. */
  readonly retry: number;
  readonly backoffPolicy: BackoffPolicy;
  readonly backoffDelayMs: number;
  /** Keep events that exhaust their retries in the dead-letter table. */
  readonly deadLetter: boolean;
  /** Also deliver them to this URL (Knative `deadLetterSink`). */
  readonly deadLetterSink: string | undefined;
}

/** The default broker's path segments, as a Knative Broker URL names them. */
export const DEFAULT_BROKER = 'default/default';

/**
 * Knative's Trigger filter: "exact match filtering on any number of CloudEvents attributes";
 * an event passes when it has every listed attribute with exactly that value.
 * @see https://knative.dev/docs/eventing/triggers/#trigger-filtering
 */
export function matchesTrigger(trigger: Trigger, attributes: Readonly<Record<string, string>>): boolean {
  for (const [name, value] of Object.entries(trigger.filters)) {
    if (attributes[name] !== value) return false;
  }
  return true;
}

interface TriggerOptions {
  /** Base of each subscriber URL, e.g. `http://127.0.0.1:8080/_fn` (the runner's internal path). */
  subscriberBase: string;
  broker?: string;
  /** The dead-letter sink URL given to every Trigger that keeps dead letters. */
  deadLetterSink?: string | undefined;
}

/** One Trigger per declared subscription, named and defaulted as the manifest generator does. */
export function triggersFromDeclarations(decls: readonly FunctionDeclaration[], opts: TriggerOptions): Trigger[] {
  const out: Trigger[] = [];
  for (const decl of decls) {
    const seen = new Map<string, number>();
    for (const sub of decl.subscribes ?? []) {
      const n = seen.get(sub.type) ?? 0;
      seen.set(sub.type, n + 1);
      const deadLetter = sub.deadLetter ?? true;
      out.push(
        Object.freeze({
          name: `${decl.name}:${sub.type}:${n}`,
          broker: opts.broker ?? DEFAULT_BROKER,
          filters: Object.freeze(triggerFilters(decl, sub)),
          subscriber: `${opts.subscriberBase}/${decl.name}${sub.path ?? '/_events'}`,
          retry: sub.retry ?? RETRY_DEFAULTS.retry,
          backoffPolicy: sub.backoffPolicy ?? RETRY_DEFAULTS.backoffPolicy,
          backoffDelayMs: parseIsoDuration(sub.backoffDelay ?? RETRY_DEFAULTS.backoffDelay),
          deadLetter,
          deadLetterSink: deadLetter ? opts.deadLetterSink : undefined,
        }),
      );
    }
  }
  return out;
}
