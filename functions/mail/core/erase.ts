// Crypto-shredding of one data subject: the key goes, so every message that concerns them can no
// longer be opened by anyone; unfinished mail is cancelled; the erasure is audited and announced.
import type { Database } from '#shared/db/index';
import type { EventPublisher } from '#shared/events/publisher';
import { writeAudit } from './audit.js';
import { eraseMessagesOf } from './messages.js';
import { destroySubjectKey } from './subjects.js';
import type { Tx } from '#shared/db/index';

const SUBJECT_ERASED = 'io.zenokube.mail.subject.erased';

interface ErasureRequest {
  tenant: string;
  subject: string;
  actor: string;
  requestId?: string | undefined;
  sourceIp?: string | undefined;
}

interface ErasureResult {
  /** False when the subject's key was already gone (erased before, or never existed). */
  erased: boolean;
  messages: number;
  cancelled: number;
}

/** Erases inside the caller's transaction (an event handler's inbox transaction). */
export async function eraseSubjectIn(tx: Tx, events: EventPublisher, r: ErasureRequest): Promise<ErasureResult> {
  const existed = await destroySubjectKey(tx, r.tenant, r.subject);
  const counts = existed ? await eraseMessagesOf(tx, r.tenant, r.subject) : { messages: 0, cancelled: 0 };
  await writeAudit(tx, { tenant: r.tenant, actor: r.actor, action: 'subject.erase', target: r.subject, outcome: existed ? 'erased' : 'already_erased', requestId: r.requestId, sourceIp: r.sourceIp });
  if (existed) await events.emit(tx, { type: SUBJECT_ERASED, data: { tenant: r.tenant, subjectId: r.subject, messages: counts.messages, cancelled: counts.cancelled } });
  return { erased: existed, ...counts };
}

export function eraseSubject(database: Database, events: EventPublisher, r: ErasureRequest): Promise<ErasureResult> {
  return database.transaction((tx) => eraseSubjectIn(tx, events, r));
}
