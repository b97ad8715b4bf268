// Per-domain concurrency: at most `limit` messages in flight per recipient domain in this pod, so a
// burst to one provider does not trip its rate limits (4yz "too many connections") and a slow
// domain cannot take every slot of the worker.

export interface DomainLimiter {
  /**
   * Waits for a slot of every domain in `domains` and returns the release. Domains are taken in
   * sorted order, so two messages sharing domains cannot each hold one the other waits for.
   */
  acquire(domains: Iterable<string>): Promise<() => void>;
}

export function createDomainLimiter(limit: number): DomainLimiter {
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError('the per-domain limit is a positive integer');
  const slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  async function take(domain: string): Promise<void> {
    let s = slots.get(domain);
    if (!s) slots.set(domain, (s = { active: 0, waiting: [] }));
    if (s.active < limit) {
      s.active++;
      return;
    }
    // The releaser hands its slot over: `active` stays as it is.
    await new Promise<void>((resolve) => s.waiting.push(resolve));
  }

  function give(domain: string): void {
    const s = slots.get(domain)!;
    const next = s.waiting.shift();
    if (next) return next();
    if (--s.active === 0) slots.delete(domain);
  }

  return {
    async acquire(domains) {
      const sorted = [...new Set(domains)].sort();
      for (const d of sorted) await take(d);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const d of sorted) give(d);
      };
    },
  };
}
