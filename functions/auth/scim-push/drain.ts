// Delivers the push queue: claims due rows one at a time (SKIP LOCKED, so pods share the work),
// pushes the resource's current state, and on failure retries with exponential backoff until the
// row becomes a dead letter an admin can see and replay.
import { eq, sql } from 'drizzle-orm';
import { rowsOf } from '#shared/db/index';
import type { AuthRuntime } from '../core/runtime.js';
import { scimPushQueue, type ScimPushItem } from '../core/schema.js';
import { findTarget, openTargetToken } from '../core/scim-targets.js';
import { pushResource } from './push.js';
import { createTargetClient, TargetError } from './target-client.js';

interface DrainOptions {
  /** Attempts before a row is a dead letter. */
  maxAttempts: number;
  /** The first retry's delay; each further one doubles it, up to an hour. */
  backoffSeconds: number;
  /** How long a claimed row is hidden from other workers while its push runs. */
  leaseSeconds: number;
  /** Rows per drain at most, so one call ends. */
  limit: number;
  fetch?: typeof fetch;
}

const DRAIN_DEFAULTS: DrainOptions = { maxAttempts: 8, backoffSeconds: 10, leaseSeconds: 120, limit: 500 };

/** The delay before attempt `n + 1` after `n` failures: backoff · 2^(n-1), at most an hour. */
export const retryDelaySeconds = (failures: number, backoffSeconds: number) => Math.min(3600, backoffSeconds * 2 ** Math.max(0, failures - 1));

async function claim(rt: AuthRuntime, leaseSeconds: number): Promise<ScimPushItem | undefined> {
  const rows = rowsOf<Record<string, unknown>>(
    await rt.db.execute(sql`
      update auth.scim_push_queue set next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
      where id = (select id from auth.scim_push_queue where dead_at is null and next_attempt_at <= now()
                  order by id limit 1 for update skip locked)
      returning id`),
  );
  const id = rows[0]?.id;
  if (id === undefined) return undefined;
  const [row] = await rt.db.select().from(scimPushQueue).where(eq(scimPushQueue.id, Number(id))).limit(1);
  return row;
}

/** Runs until nothing is due (or `limit` rows); returns what it did. */
export async function drainPushQueue(rt: AuthRuntime, opts: DrainOptions = DRAIN_DEFAULTS): Promise<{ delivered: number; failed: number }> {
  let delivered = 0;
  let failed = 0;
  for (let n = 0; n < opts.limit; n++) {
    const item = await claim(rt, opts.leaseSeconds);
    if (!item) break;
    try {
      const target = await findTarget(rt.db, item.tenantId, item.targetId);
      if (target) {
        const client = createTargetClient(target.url, openTargetToken(rt.pushSealer, target), opts.fetch);
        await pushResource({ db: rt.db, target, client }, item.resourceType, item.resourceId);
      }
      await rt.db.delete(scimPushQueue).where(eq(scimPushQueue.id, item.id));
      delivered++;
    } catch (err) {
      failed++;
      // A target's answer is shown to the admin; anything else is ours, logged, and shown as such.
      const message = err instanceof TargetError ? err.message : 'internal error';
      if (!(err instanceof TargetError)) rt.log.error('scim push failed', { err, target: item.targetId });
      const attempts = item.attempts + 1;
      const dead = attempts >= opts.maxAttempts;
      await rt.db
        .update(scimPushQueue)
        .set({
          attempts,
          lastError: message.slice(0, 500),
          nextAttemptAt: sql`now() + make_interval(secs => ${retryDelaySeconds(attempts, opts.backoffSeconds)})`,
          deadAt: dead ? sql`now()` : null,
        })
        .where(eq(scimPushQueue.id, item.id));
    }
  }
  return { delivered, failed };
}
