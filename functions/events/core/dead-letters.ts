// Queries of the dead-letter store: SQL only, through drizzle, parameterised.
import { createHash } from 'node:crypto';
import { and, count, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '#shared/db/index';
import { deadLetters, type DeadLetter, type NewDeadLetter } from './schema.js';

/** How long a replay in progress holds its dead letter before another replay may take it over. */
const REPLAY_LEASE_SECONDS = 60;

/** The dedupe key of a dead letter (see `deadLetters.key`). */
function deadLetterKey(parts: { source: string; eventId: string; subscriber: string; replayOf: string }): string {
  return createHash('sha256').update(JSON.stringify([parts.source, parts.eventId, parts.subscriber, parts.replayOf])).digest('hex');
}

/** Stores a dead letter; false when the same one was stored already (a redelivery). */
export async function storeDeadLetter(db: Db, row: Omit<NewDeadLetter, 'key'>): Promise<boolean> {
  const inserted = await db
    .insert(deadLetters)
    .values({ ...row, key: deadLetterKey(row) })
    .onConflictDoNothing({ target: deadLetters.key })
    .returning({ seq: deadLetters.seq });
  return inserted.length > 0;
}

type DeadLetterSummary = Omit<DeadLetter, 'data' | 'key' | 'attributes' | 'errorData'>;

/** A page of dead letters, newest first, optionally of one type, below the `before` cursor. */
export async function listDeadLetters(db: Db, opts: { type?: string; before?: number; limit: number }): Promise<DeadLetterSummary[]> {
  const where = and(opts.type === undefined ? undefined : eq(deadLetters.type, opts.type), opts.before === undefined ? undefined : lt(deadLetters.seq, opts.before));
  return db
    .select({
      seq: deadLetters.seq,
      eventId: deadLetters.eventId,
      source: deadLetters.source,
      type: deadLetters.type,
      subscriber: deadLetters.subscriber,
      errorCode: deadLetters.errorCode,
      replayOf: deadLetters.replayOf,
      receivedAt: deadLetters.receivedAt,
      replayStartedAt: deadLetters.replayStartedAt,
      replayedAt: deadLetters.replayedAt,
    })
    .from(deadLetters)
    .where(where)
    .orderBy(desc(deadLetters.seq))
    .limit(opts.limit);
}

export async function findDeadLetter(db: Db, seq: number): Promise<DeadLetter | undefined> {
  const [row] = await db.select().from(deadLetters).where(eq(deadLetters.seq, seq));
  return row;
}

export async function deleteDeadLetter(db: Db, seq: number): Promise<boolean> {
  const gone = await db.delete(deadLetters).where(eq(deadLetters.seq, seq)).returning({ seq: deadLetters.seq });
  return gone.length > 0;
}

/** Dead letters not replayed yet: the `zeno_dead_letters_stored` gauge. */
export async function countWaiting(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(deadLetters).where(isNull(deadLetters.replayedAt));
  return Number(row?.n ?? 0);
}

type ReplayClaim =
  | { ok: true; row: DeadLetter }
  | { ok: false; reason: 'not_found' | 'already_replayed' | 'replay_in_progress' };

/**
 * Takes a dead letter for a replay: one statement, so two concurrent replays cannot both take it.
 * The claim is a lease: a replay that crashed before marking its result can be taken again after it.
 */
export async function claimReplay(db: Db, seq: number): Promise<ReplayClaim> {
  const [row] = await db
    .update(deadLetters)
    .set({ replayStartedAt: sql`now()` })
    .where(
      and(
        eq(deadLetters.seq, seq),
        isNull(deadLetters.replayedAt),
        or(isNull(deadLetters.replayStartedAt), lt(deadLetters.replayStartedAt, sql`now() - make_interval(secs => ${REPLAY_LEASE_SECONDS})`)),
      ),
    )
    .returning();
  if (row) return { ok: true, row };
  const current = await findDeadLetter(db, seq);
  if (!current) return { ok: false, reason: 'not_found' };
  return { ok: false, reason: current.replayedAt ? 'already_replayed' : 'replay_in_progress' };
}

/** Records the outcome of a claimed replay: accepted by the Broker (replayed), or not (claim released). */
export async function finishReplay(db: Db, seq: number, accepted: boolean): Promise<Date | undefined> {
  const [row] = await db
    .update(deadLetters)
    .set(accepted ? { replayedAt: sql`now()`, replayStartedAt: null } : { replayStartedAt: null })
    .where(eq(deadLetters.seq, seq))
    .returning({ replayedAt: deadLetters.replayedAt });
  return row?.replayedAt ?? undefined;
}
