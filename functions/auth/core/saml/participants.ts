// Which SPs a session signed in to, under which NameID and SessionIndex: single logout's list.
import { and, eq } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { samlParticipants, samlServiceProviders } from '../schema.js';

export async function recordParticipant(q: Queryable, v: { tenantId: string; sessionId: string; spId: string; nameId: string; nameIdFormat: string; sessionIndex: string }): Promise<void> {
  await q
    .insert(samlParticipants)
    .values(v)
    .onConflictDoUpdate({ target: [samlParticipants.sessionId, samlParticipants.spId], set: { nameId: v.nameId, nameIdFormat: v.nameIdFormat, sessionIndex: v.sessionIndex } });
}

export async function participantsOf(q: Queryable, tenantId: string, sessionId: string) {
  return q
    .select({ participant: samlParticipants, sp: samlServiceProviders })
    .from(samlParticipants)
    .innerJoin(samlServiceProviders, eq(samlServiceProviders.id, samlParticipants.spId))
    .where(and(eq(samlParticipants.tenantId, tenantId), eq(samlParticipants.sessionId, sessionId)));
}

/** The participation a LogoutRequest names: that SP, that NameID, that SessionIndex. */
export async function findParticipation(q: Queryable, tenantId: string, spId: string, nameId: string, sessionIndex: string | undefined) {
  const rows = await q
    .select()
    .from(samlParticipants)
    .where(and(eq(samlParticipants.tenantId, tenantId), eq(samlParticipants.spId, spId), eq(samlParticipants.nameId, nameId), ...(sessionIndex ? [eq(samlParticipants.sessionIndex, sessionIndex)] : [])));
  return rows;
}
