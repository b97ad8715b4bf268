// Data subjects and their keys: created by a subject's first message, destroyed by erasure.
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '#shared/db/index';
import { MailError } from './errors.js';
import { newSubjectKey, unwrapSubjectKey, type MailKeys } from './keys.js';
import { subjects } from './schema.js';

/**
 * The keys of `ids` for a new message, creating the subjects that do not exist yet. Rows are
 * locked FOR SHARE until the caller's transaction ends, so an erasure running at the same time
 * waits, then finds and erases the message; or erases first, and the send is refused.
 */
export async function keysForSend(tx: Tx, keys: MailKeys, tenant: string, ids: readonly string[]): Promise<Map<string, Buffer>> {
  const sorted = [...new Set(ids)].sort();
  const fresh = sorted.map((id) => ({ id, ...newSubjectKey(keys, tenant, id) }));
  await tx.insert(subjects).values(fresh.map((f) => ({ tenant, id: f.id, wrappedKey: f.wrapped }))).onConflictDoNothing();
  for (const f of fresh) f.key.fill(0);
  const rows = await tx
    .select({ id: subjects.id, wrappedKey: subjects.wrappedKey })
    .from(subjects)
    .where(and(eq(subjects.tenant, tenant), inArray(subjects.id, sorted)))
    .orderBy(subjects.id)
    .for('share');
  const erased = rows.filter((r) => r.wrappedKey === null).map((r) => r.id);
  if (erased.length > 0) throw new MailError('subject_erased', 'A data subject of this message has been erased; nothing is sent or stored for it.', { subjects: erased });
  return new Map(rows.map((r) => [r.id, unwrapSubjectKey(keys, tenant, r.id, r.wrappedKey!)]));
}

/** The keys of `ids` for reading, or undefined when any of them is gone (erased or never existed). */
export async function keysForRead(db: Queryable, keys: MailKeys, tenant: string, ids: readonly string[]): Promise<Map<string, Buffer> | undefined> {
  const rows = await db
    .select({ id: subjects.id, wrappedKey: subjects.wrappedKey })
    .from(subjects)
    .where(and(eq(subjects.tenant, tenant), inArray(subjects.id, [...ids])));
  const found = new Map<string, Buffer>();
  for (const r of rows) if (r.wrappedKey) found.set(r.id, unwrapSubjectKey(keys, tenant, r.id, r.wrappedKey));
  if (ids.some((id) => !found.has(id))) {
    for (const k of found.values()) k.fill(0);
    return undefined;
  }
  return found;
}

/**
 * Destroys a subject's key (crypto-shredding). A subject never seen before is recorded as erased,
 * so that no later message can create a key for it. Returns whether the key existed until now.
 */
export async function destroySubjectKey(tx: Tx, tenant: string, id: string): Promise<boolean> {
  const [before] = await tx
    .select({ wrappedKey: subjects.wrappedKey })
    .from(subjects)
    .where(and(eq(subjects.tenant, tenant), eq(subjects.id, id)))
    .for('update');
  await tx
    .insert(subjects)
    .values({ tenant, id, wrappedKey: null, erasedAt: sql`now()` })
    .onConflictDoUpdate({ target: [subjects.tenant, subjects.id], set: { wrappedKey: null, erasedAt: sql`coalesce(${subjects.erasedAt}, now())` } });
  return before?.wrappedKey != null;
}
