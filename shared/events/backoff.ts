// Retry delays: exponential or linear from a base, and ISO 8601 durations as Knative writes them.

/** Knative `delivery.backoffPolicy`. */
export type BackoffPolicy = 'exponential' | 'linear';

/**
 * The delivery schedule of a subscription that declares none, in Knative's terms. Retries must
 * outlast a consumer's restart (a rollout, a crash loop's back-off, a node drain), not a blip:
 * exponential from 0.5 s, nine retries wait 1, 2, 4 … 256 s, about 8.5 minutes in all, before
 * the event is dead-lettered. Knative's exponential policy has no cap, so neither has ours: the
 * same schedule runs on a cluster and on one machine.
 */
export const RETRY_DEFAULTS = { retry: 9, backoffPolicy: 'exponential', backoffDelay: 'PT0.5S' } as const satisfies {
  retry: number;
  backoffPolicy: BackoffPolicy;
  backoffDelay: string;
};

/** Total wait (ms) across `retry` retries: the longest outage a schedule rides out. */
export function retryWindowMs(policy: BackoffPolicy, baseMs: number, retry: number): number {
  let total = 0;
  for (let n = 1; n <= retry; n++) total += retryDelayMs(policy, baseMs, n);
  return total;
}

/**
 * Delay before retry number `retry` (1-based), as Knative Eventing computes it:
 * exponential = base * 2^retry, linear = base * retry.
 * @see https://knative.dev/docs/eventing/event-delivery/#configuring-subscription-event-delivery
 */
export function retryDelayMs(policy: BackoffPolicy, baseMs: number, retry: number): number {
  return policy === 'linear' ? baseMs * retry : baseMs * 2 ** retry;
}

/** Exponential delay with "equal jitter" (half fixed, half random), capped. For the relay. */
export function jitteredDelayMs(baseMs: number, attempt: number, capMs: number, random: () => number = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

const DURATION = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses the ISO 8601 durations Knative accepts for `backoffDelay` (days, hours, minutes,
 * seconds, e.g. `PT0.2S`, `PT1M`); throws a TypeError for anything else.
 */
export function parseIsoDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) throw new TypeError(`"${text}" is not an ISO 8601 duration like PT0.2S`);
  const [, d, h, min, s] = m;
  const ms = (Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3_600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1_000;
  return Math.round(ms);
}
