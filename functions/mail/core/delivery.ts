// The delivery state machine in SQL: claim due messages under a lease, then record the outcome.
// The `attempts` count claimed is the fencing token: an attempt whose lease ran out and was
// claimed again cannot record its outcome over the newer one.
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { recordEvent } from './messages.js';
import { messages, type Message } from './schema.js';

/**
 * Claims up to `limit` due messages: queued, deferred and due, or sending with an expired lease
 * (its pod died mid-attempt). Two claimers never get the same row (SKIP LOCKED, one statement).
 */
export async function claimDue(database: Database, limit: number, leaseMs: number, onlyId?: string): Promise<Message[]> {
  const rows = await database.query<{ id: string }>(sql`
    update mail.messages set status = 'sending', attempts = attempts + 1, lease_until = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
    where id in (
      select id from mail.messages
      where ((status in ('queued', 'deferred') and next_attempt_at <= now()) or (status = 'sending' and lease_until < now()))
        ${onlyId === undefined ? sql`` : sql`and id = ${onlyId}`}
      order by next_attempt_at
      limit ${limit}
      for update skip locked)
    returning id`);
  if (rows.length === 0) return [];
  const claimed = await database.db.select().from(messages).where(inArray(messages.id, rows.map((r) => r.id)));
  for (const m of claimed) await recordEvent(database.db, m, 'sending');
  return claimed;
}

/** Where an attempt ended. */
export type AttemptResult =
  | { status: 'sent'; detail: Record<string, unknown> }
  | { status: 'deferred'; detail: Record<string, unknown>; retryAt: Date }
  | { status: 'bounced' | 'failed' | 'cancelled'; detail: Record<string, unknown> };

/**
 * Records the outcome of the attempt that claimed `m` (its `attempts` is the token). False when
 * the message was taken from it meanwhile (cancelled by an erasure, or claimed again).
 */
export async function finishAttempt(database: Database, m: Message, r: AttemptResult, key: Buffer | undefined): Promise<boolean> {
  return database.transaction(async (tx) => {
    const updated = await tx
      .update(messages)
      .set({ status: r.status, leaseUntil: null, updatedAt: sql`now()`, ...(r.status === 'deferred' ? { nextAttemptAt: r.retryAt } : {}) })
      .where(and(eq(messages.id, m.id), eq(messages.status, 'sending'), eq(messages.attempts, m.attempts)))
      .returning({ id: messages.id });
    if (updated.length === 0) return false;
    await recordEvent(tx, m, r.status, key ? { key, value: r.detail } : undefined);
    return true;
  });
}
