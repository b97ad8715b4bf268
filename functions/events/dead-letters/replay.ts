// Replaying a dead letter: the original event (same source and id, same attributes and data) is
// sent once more to the Broker ($K_SINK), with `zenoreplay` set to the dead letter's id. Every
// Trigger that matches gets it again; a subscriber that had processed it already finds its id in
// its inbox and has no second effect, the one that failed (now fixed) processes it once.
//
// A dead letter is replayed at most once: the claim is one conditional UPDATE, a second replay of
// a replayed dead letter is refused with 409, and one racing a replay in progress too. Should the
// replayed event fail again, the Trigger dead-letters it anew: a new dead letter (its
// `replayOf` says so), replayable in its turn. Refusing rather than resending keeps "replay" an
// answer an operator can trust: 200 means the Broker has the event, and nothing is sent twice by
// a double click. A replay whose process died between sending and marking can be taken again
// after a minute; the Broker's copy and the subscribers' inboxes absorb that second send.
import type { Db } from '#shared/db/index';
import type { WireEvent } from '#shared/events/cloudevent';
import { REPLAY_EXTENSION } from '#shared/events/dead-letter';
import type { EventSender } from '#shared/events/sender';
import { AppError, conflict, notFound } from '#shared/http/errors';
import { claimReplay, finishReplay } from '../core/dead-letters.js';

export interface ReplayDeps {
  db: Db;
  /** The Broker's ingress ($K_SINK); undefined when this pod has none. */
  sink: string | undefined;
  sender: () => EventSender;
}

export async function replayDeadLetter(deps: ReplayDeps, seq: number): Promise<{ replayedAt: Date }> {
  const sink = deps.sink;
  if (!sink) throw new AppError(503, 'no_sink', 'Service Unavailable', { detail: 'No Broker to replay into: K_SINK is not set.' });
  const claim = await claimReplay(deps.db, seq);
  if (!claim.ok) {
    if (claim.reason === 'not_found') throw notFound('No such dead letter.');
    if (claim.reason === 'already_replayed') throw conflict('already_replayed', 'This dead letter was replayed already; a new failure is stored as a new dead letter.');
    throw conflict('replay_in_progress', 'This dead letter is being replayed.');
  }
  const event: WireEvent = {
    attributes: { ...claim.row.attributes, [REPLAY_EXTENSION]: String(claim.row.seq) },
    data: claim.row.data ?? undefined,
  };
  const sender = deps.sender();
  try {
    const result = await sender.send(sink, event);
    if (!result.ok) {
      await finishReplay(deps.db, seq, false);
      throw new AppError(502, 'broker_refused', 'Bad Gateway', { detail: `The Broker did not accept the event (${result.status ?? 'no answer'}); the dead letter is kept.` });
    }
  } catch (err) {
    if (!(err instanceof AppError)) await finishReplay(deps.db, seq, false);
    throw err;
  } finally {
    await sender.close();
  }
  const replayedAt = await finishReplay(deps.db, seq, true);
  return { replayedAt: replayedAt ?? new Date() };
}
