// The message store: sealed content, its history, lookups by blind index. SQL and sealing only.
import { and, arrayContains, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '#shared/db/index';
import { aad, open, seal } from './cipher.js';
import type { MessageContent, MessageStatus } from './content.js';
import { MailError } from './errors.js';
import { deriveMessageKey, type MailKeys } from './keys.js';
import { messageEvents, messages, type Message } from './schema.js';
import { keysForRead } from './subjects.js';

interface NewMessage {
  id: string;
  tenant: string;
  subjects: string[];
  recipientIndex: string[];
  tags: string[];
  idempotencyKey: string | null;
  requestHash: string | null;
  content: MessageContent;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

/** Inserts a queued message and its first history entry; undefined when the idempotency key is taken. */
export async function insertMessage(tx: Tx, subjectKeys: ReadonlyMap<string, Buffer>, m: NewMessage): Promise<{ id: string } | undefined> {
  const key = deriveMessageKey(subjectKeys, m.id);
  try {
    const plain = encode(m.content);
    const content = seal(key, plain, aad.content(m.tenant, m.id));
    const size = plain.length;
    plain.fill(0);
    const [row] = await tx
      .insert(messages)
      .values({
        id: m.id,
        tenant: m.tenant,
        status: 'queued',
        subjects: m.subjects,
        recipientIndex: m.recipientIndex,
        recipientCount: m.recipientIndex.length,
        sizeBytes: size,
        tags: m.tags,
        idempotencyKey: m.idempotencyKey,
        requestHash: m.requestHash,
        content,
      })
      .onConflictDoNothing({ target: [messages.tenant, messages.idempotencyKey] })
      .returning({ id: messages.id });
    if (!row) return undefined;
    await tx.insert(messageEvents).values({ messageId: m.id, tenant: m.tenant, kind: 'queued' });
    return row;
  } finally {
    key.fill(0);
  }
}

/** The message a tenant's idempotency key names, if any. */
export async function findByIdempotencyKey(db: Queryable, tenant: string, idempotencyKey: string): Promise<Message | undefined> {
  const [row] = await db.select().from(messages).where(and(eq(messages.tenant, tenant), eq(messages.idempotencyKey, idempotencyKey)));
  return row;
}

export async function findMessage(db: Queryable, tenant: string, id: string): Promise<Message | undefined> {
  const [row] = await db.select().from(messages).where(and(eq(messages.tenant, tenant), eq(messages.id, id)));
  return row;
}

/** The message key of a stored message, or undefined once any of its subjects is erased. */
async function messageKey(db: Queryable, keys: MailKeys, m: Pick<Message, 'tenant' | 'id' | 'subjects'>): Promise<Buffer | undefined> {
  const subjectKeys = await keysForRead(db, keys, m.tenant, m.subjects);
  if (!subjectKeys) return undefined;
  try {
    return deriveMessageKey(subjectKeys, m.id);
  } finally {
    for (const k of subjectKeys.values()) k.fill(0);
  }
}

/** Opens a message's content; a MailError `message_erased` once a subject key is gone. */
export async function openContent(db: Queryable, keys: MailKeys, m: Message): Promise<{ content: MessageContent; key: Buffer }> {
  const key = await messageKey(db, keys, m);
  if (!key) throw new MailError('message_erased', 'This message concerns an erased data subject; its content no longer exists.');
  const plain = open(key, m.content, aad.content(m.tenant, m.id));
  try {
    return { content: JSON.parse(plain.toString('utf8')) as MessageContent, key };
  } finally {
    plain.fill(0);
  }
}

/** Appends a history entry, its detail sealed under the message key. */
export async function recordEvent(db: Queryable, m: Pick<Message, 'tenant' | 'id'>, kind: string, detail?: { key: Buffer; value: Record<string, unknown> }): Promise<void> {
  await db.insert(messageEvents).values({
    messageId: m.id,
    tenant: m.tenant,
    kind,
    detail: detail ? seal(detail.key, encode(detail.value), aad.eventDetail(m.tenant, m.id, kind)) : null,
  });
}

interface HistoryEntry {
  kind: string;
  at: Date;
  detail?: Record<string, unknown>;
}

/** The history of a message, details opened with its key (absent once erased). */
export async function messageHistory(db: Queryable, m: Pick<Message, 'tenant' | 'id'>, key: Buffer | undefined): Promise<HistoryEntry[]> {
  const rows = await db.select().from(messageEvents).where(and(eq(messageEvents.tenant, m.tenant), eq(messageEvents.messageId, m.id))).orderBy(messageEvents.seq);
  return rows.map((r) => {
    const entry: HistoryEntry = { kind: r.kind, at: r.at };
    if (r.detail && key) entry.detail = JSON.parse(open(key, r.detail, aad.eventDetail(m.tenant, m.id, r.kind)).toString('utf8')) as Record<string, unknown>;
    return entry;
  });
}

interface ListFilter {
  status?: MessageStatus;
  tag?: string;
  subject?: string;
  recipientIndex?: string;
  before?: Date;
  limit: number;
}

/** A tenant's messages, newest first, without content. */
export async function listMessages(db: Queryable, tenant: string, f: ListFilter): Promise<Message[]> {
  const where = [eq(messages.tenant, tenant)];
  if (f.status) where.push(eq(messages.status, f.status));
  if (f.tag) where.push(arrayContains(messages.tags, [f.tag]));
  if (f.subject) where.push(arrayContains(messages.subjects, [f.subject]));
  if (f.recipientIndex) where.push(arrayContains(messages.recipientIndex, [f.recipientIndex]));
  if (f.before) where.push(lt(messages.createdAt, f.before));
  return db.select().from(messages).where(and(...where)).orderBy(desc(messages.createdAt), desc(messages.id)).limit(f.limit);
}

/**
 * The erasure's effect on a subject's messages: unfinished ones are cancelled, every one gets an
 * `erased` history entry and loses its address index. The sealed content stays: without the key
 * it is noise, and counts and statistics remain. Returns (messages, cancelled).
 */
export async function eraseMessagesOf(tx: Tx, tenant: string, subject: string): Promise<{ messages: number; cancelled: number }> {
  const of = and(eq(messages.tenant, tenant), arrayContains(messages.subjects, [subject]));
  const cancelled = await tx
    .update(messages)
    .set({ status: 'cancelled', leaseUntil: null, updatedAt: sql`now()` })
    .where(and(of, inArray(messages.status, ['queued', 'deferred'])))
    .returning({ id: messages.id });
  if (cancelled.length > 0) await tx.insert(messageEvents).values(cancelled.map((c) => ({ messageId: c.id, tenant, kind: 'cancelled' })));
  const all = await tx.update(messages).set({ recipientIndex: [], updatedAt: sql`now()` }).where(of).returning({ id: messages.id });
  if (all.length > 0) await tx.insert(messageEvents).values(all.map((c) => ({ messageId: c.id, tenant, kind: 'erased' })));
  return { messages: all.length, cancelled: cancelled.length };
}
