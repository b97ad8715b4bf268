// Reconnect delays: exponential growth with "equal jitter" (half the delay fixed, half random), so
// agents cut off together do not all dial back in the same instant, and none retries at once.
// @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/

export interface BackoffOptions {
  /** The first delay's ceiling, milliseconds (default 500). */
  initialMs?: number;
  /** The largest delay, milliseconds (default 30 000). */
  maxMs?: number;
}

/** The delay before retry number `attempt` (0 for the first), in milliseconds. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
