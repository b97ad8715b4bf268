// The dead-letter metrics: how many arrived (by type and subscriber) and how many wait for an operator.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '#shared/db/index';
import { countWaiting } from '../core/dead-letters.js';

export interface DeadLetterMetrics {
  /** Counts one newly stored dead letter. */
  stored(type: string, subscriber: string): void;
}

/** Label values are bounded: a type or subscriber URL longer than this is cut. */
const MAX_LABEL = 200;

export function createDeadLetterMetrics(registry: Registry, db: Db): DeadLetterMetrics {
  const total = new Counter({
    name: 'zeno_dead_letters_total',
    help: 'Events dead-lettered by a Trigger after its retries, by event type and failing subscriber.',
    labelNames: ['type', 'subscriber'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'zeno_dead_letters_stored',
    help: 'Dead letters stored and not replayed yet.',
    registers: [registry],
    // Read at scrape time: every replica reports the same store.
    async collect() {
      this.set(await countWaiting(db));
    },
  });
  return {
    stored: (type, subscriber) => total.inc({ type: type.slice(0, MAX_LABEL), subscriber: subscriber.slice(0, MAX_LABEL) }),
  };
}
