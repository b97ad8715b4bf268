// The delivery worker: claims due messages, opens them, drops suppressed recipients, sends through
// the transport with no transaction open, and records the outcome (sent, deferred with backoff,
// bounced with the recipients suppressed, failed).
import type { Database } from '#shared/db/index';
import { jitteredDelayMs } from '#shared/events/backoff';
import type { Logger } from '#shared/log/index';
import { domainOf, normalizeAddress } from '../core/address.js';
import { recipientsOf } from '../core/content.js';
import { claimDue, finishAttempt, type AttemptResult } from '../core/delivery.js';
import { MailError } from '../core/errors.js';
import { blindIndex, type MailKeys } from '../core/keys.js';
import { openContent } from '../core/messages.js';
import type { Message } from '../core/schema.js';
import { suppress, suppressedAmong } from '../core/suppressions.js';
import { composeMessage } from './compose.js';
import type { DomainLimiter } from './domain-limit.js';
import type { Route } from './routes.js';
import type { Refusal, SendOutcome } from './transport.js';

interface DelivererOptions {
  database: Database;
  keys: MailKeys;
  log: Logger;
  /** The transport and DKIM keys of a tenant (looked up once per claimed batch). */
  routeFor(tenant: string): Promise<Route>;
  /** Messages in flight per recipient domain. */
  domains: DomainLimiter;
  /** First retry delay; doubles per attempt (with jitter), capped at an hour. */
  retryBaseMs: number;
  /** After this long since acceptance a temporary failure is final. */
  retryHorizonMs: number;
  /** Messages in flight at once. */
  concurrency: number;
  /** How long a claim holds a message before another pod may take it over. */
  leaseMs?: number;
}

export interface Deliverer {
  /** Delivers what is due, now and until nothing is; resolves when this round is done. */
  drain(): Promise<void>;
  /** Starts a round unless one runs (then that round looks again before it ends). */
  wake(): void;
  /** Waits for the running round, then stops the retry timer. */
  close(): Promise<void>;
}

const MAX_DELAY_MS = 3_600_000;

export function createDeliverer(opts: DelivererOptions): Deliverer {
  const leaseMs = opts.leaseMs ?? 10 * 60_000;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;

  /** Wakes again when the earliest deferred message is due (the schedule covers a stopped pod). */
  const wakeAt = (at: Date) => {
    if (closed || at.getTime() >= timerAt) return;
    if (timer) clearTimeout(timer);
    timerAt = at.getTime();
    const fire = () => {
      // A timer may fire a millisecond before the wall clock reaches its time; the claim would
      // then find the message not yet due and nothing would wake for it again.
      const early = timerAt - Date.now();
      if (early > 0) {
        timer = setTimeout(fire, early);
        timer.unref();
        return;
      }
      timer = undefined;
      timerAt = Infinity;
      deliverer.wake();
    };
    timer = setTimeout(fire, Math.max(0, timerAt - Date.now()));
    timer.unref();
  };

  function resultOf(m: Message, outcome: SendOutcome): AttemptResult {
    if (outcome.kind === 'sent') return { status: 'sent', detail: { response: outcome.response, accepted: outcome.accepted, refused: outcome.refused } };
    if (outcome.kind === 'permanent') return { status: outcome.refused.length > 0 ? 'bounced' : 'failed', detail: { reason: outcome.reason, code: outcome.code, refused: outcome.refused } };
    // A Retry-After from the server (Graph's throttling) is a floor under our own backoff.
    const delay = Math.max(jitteredDelayMs(opts.retryBaseMs, m.attempts, MAX_DELAY_MS), Math.min(outcome.retryAfterMs ?? 0, MAX_DELAY_MS));
    const retryAt = new Date(Date.now() + delay);
    if (retryAt.getTime() - m.createdAt.getTime() > opts.retryHorizonMs) {
      return { status: 'failed', detail: { reason: `temporary failures past the retry horizon: ${outcome.reason}`, code: outcome.code } };
    }
    return { status: 'deferred', detail: { reason: outcome.reason, code: outcome.code, retryAt: retryAt.toISOString() }, retryAt };
  }

  /** Hard bounces join the suppression list (RFC 5321 §4.2.1: 5yz is a permanent failure). */
  async function suppressRefused(tenant: string, refused: Refusal[]): Promise<void> {
    for (const r of refused) {
      if (r.address && r.code !== undefined && r.code >= 500) await suppress(opts.database.db, tenant, blindIndex(opts.keys, 'address', normalizeAddress(r.address)), 'hard_bounce');
    }
  }

  async function attempt(m: Message, route: Promise<Route>): Promise<void> {
    let opened;
    try {
      opened = await openContent(opts.database.db, opts.keys, m);
    } catch (err) {
      // Anything else (the database away) leaves the claim to expire and the message to be retried.
      if (!(err instanceof MailError && err.code === 'message_erased')) throw err;
      // A subject was erased after the claim: nothing can be sent, nothing is recorded of it.
      await finishAttempt(opts.database, m, { status: 'cancelled', detail: {} }, undefined);
      return;
    }
    const { content, key } = opened;
    try {
      const recipients = recipientsOf(content);
      const indexes = recipients.map((a) => blindIndex(opts.keys, 'address', normalizeAddress(a)));
      const suppressed = await suppressedAmong(opts.database.db, m.tenant, indexes);
      const drop = new Set(recipients.filter((_, i) => suppressed.has(indexes[i]!)));
      if (drop.size === recipients.length) {
        await finishAttempt(opts.database, m, { status: 'failed', detail: { reason: 'every recipient is on the suppression list' } }, key);
        return;
      }
      const { transport, dkimFor } = await route;
      const message = composeMessage(m.id, content, drop, dkimFor(domainOf(content.from.address)));
      const release = await opts.domains.acquire(recipients.filter((a) => !drop.has(a)).map((a) => domainOf(a).toLowerCase()));
      let outcome: SendOutcome;
      try {
        outcome = await transport.send(message);
      } finally {
        release();
      }
      const result = resultOf(m, outcome);
      if (outcome.kind !== 'temporary') await suppressRefused(m.tenant, outcome.refused);
      if (drop.size > 0) result.detail.suppressed = [...drop];
      await finishAttempt(opts.database, m, result, key);
      if (result.status === 'deferred') wakeAt(result.retryAt);
    } finally {
      key.fill(0);
    }
  }

  async function round(): Promise<void> {
    do {
      again = false;
      for (;;) {
        const batch = await claimDue(opts.database, opts.concurrency, leaseMs);
        if (batch.length === 0) break;
        const routes = new Map<string, Promise<Route>>();
        const routeOf = (tenant: string) => {
          let r = routes.get(tenant);
          if (!r) routes.set(tenant, (r = opts.routeFor(tenant)));
          return r;
        };
        await Promise.all(
          batch.map((m) => attempt(m, routeOf(m.tenant)).catch((err: unknown) => opts.log.error('delivery attempt failed', { message_id: m.id, err }))),
        );
      }
    } while (again && !closed);
  }

  const deliverer: Deliverer = {
    drain() {
      if (running) {
        again = true;
        return running;
      }
      running = round().finally(() => {
        running = undefined;
      });
      return running;
    },
    wake() {
      if (!closed) deliverer.drain().catch((err: unknown) => opts.log.error('delivery round failed', { err }));
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
  return deliverer;
}
