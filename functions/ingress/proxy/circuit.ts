// Circuit breakers per upstream endpoint: consecutive failures open the circuit, a cool-down
// later one probe is let through (half-open); its success closes the circuit, its failure reopens it.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit rejects before a probe, in ms. */
  openMs: number;
}

interface Circuit {
  state: CircuitState;
  failures: number;
  openedAt: number;
  probing: boolean;
}

export interface CircuitBreakers {
  /** Whether a request may go to `key` now; in half-open state only one probe at a time. */
  allow(key: string): boolean;
  success(key: string): void;
  failure(key: string): void;
  /**
   * The half-open probe of `key` ended without saying anything of the endpoint (its client went
   * away, or broke its request off): the next request may probe. Without it an unjudged probe
   * would keep the circuit open for good.
   */
  release(key: string): void;
  state(key: string): CircuitState;
  /** Called on every state change (metrics). */
  onChange: ((key: string, state: CircuitState) => void) | undefined;
}

export function createCircuitBreakers(opts: CircuitOptions, now: () => number = Date.now): CircuitBreakers {
  const circuits = new Map<string, Circuit>();
  const get = (key: string): Circuit => {
    let c = circuits.get(key);
    if (!c) circuits.set(key, (c = { state: 'closed', failures: 0, openedAt: 0, probing: false }));
    return c;
  };
  const breakers: CircuitBreakers = {
    onChange: undefined,
    allow(key) {
      const c = circuits.get(key);
      if (!c || c.state === 'closed') return true;
      if (c.state === 'open') {
        if (now() - c.openedAt < opts.openMs) return false;
        c.state = 'half-open';
        c.probing = false;
        breakers.onChange?.(key, c.state);
      }
      if (c.probing) return false;
      c.probing = true;
      return true;
    },
    success(key) {
      const c = circuits.get(key);
      if (!c) return;
      const changed = c.state !== 'closed';
      c.failures = 0;
      c.state = 'closed';
      c.probing = false;
      if (changed) breakers.onChange?.(key, c.state);
    },
    failure(key) {
      const c = get(key);
      c.failures++;
      if (c.state === 'half-open' || (c.state === 'closed' && c.failures >= opts.failureThreshold)) {
        c.state = 'open';
        c.openedAt = now();
        c.probing = false;
        breakers.onChange?.(key, c.state);
      }
    },
    release(key) {
      const c = circuits.get(key);
      if (c?.state === 'half-open') c.probing = false;
    },
    state: (key) => {
      const c = circuits.get(key);
      if (c?.state === 'open' && now() - c.openedAt >= opts.openMs) return 'half-open';
      return c?.state ?? 'closed';
    },
  };
  return breakers;
}
