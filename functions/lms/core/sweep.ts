// The scheduled sweep: licenses past their expiry and grace become `expired`, and a license that
// missed its check-in window is announced once per window. Each change and its event commit together.
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Tx } from '#shared/db/index';
import type { LmsRuntime } from './runtime.js';
import { licenses, policies } from './schema.js';

const BATCH = 500;

async function expireDue(rt: LmsRuntime, tx: Tx, now: Date): Promise<number> {
  const due = await tx
    .select({ id: licenses.id, tenant: licenses.tenant, productId: licenses.productId, expiresAt: licenses.expiresAt })
    .from(licenses)
    .innerJoin(policies, eq(policies.id, licenses.policyId))
    .where(and(inArray(licenses.status, ['active', 'suspended']), isNotNull(licenses.expiresAt), sql`${licenses.expiresAt} + make_interval(secs => ${policies.graceSeconds}) <= ${now.toISOString()}::timestamptz`))
    .limit(BATCH)
    .for('update', { skipLocked: true });
  for (const l of due) {
    await tx.update(licenses).set({ status: 'expired' }).where(eq(licenses.id, l.id));
    await rt.events.emit(tx, { type: 'io.zenokube.lms.license.expired', subject: l.id, id: `lms-expired-${l.id}-${l.expiresAt!.getTime()}`, data: { tenant: l.tenant, licenseId: l.id, productId: l.productId, expiresAt: l.expiresAt!.toISOString() } });
  }
  return due.length;
}

async function announceMissedCheckIns(rt: LmsRuntime, tx: Tx, now: Date): Promise<number> {
  const dueAt = sql<Date>`coalesce(${licenses.lastCheckInAt}, ${licenses.createdAt}) + make_interval(secs => ${policies.checkInIntervalSeconds} + ${policies.graceSeconds})`;
  const missed = await tx
    .select({ id: licenses.id, tenant: licenses.tenant, productId: licenses.productId, dueAt: sql<string>`(${dueAt})::text` })
    .from(licenses)
    .innerJoin(policies, eq(policies.id, licenses.policyId))
    .where(and(eq(licenses.status, 'active'), isNull(licenses.checkInMissedAt), isNotNull(policies.checkInIntervalSeconds), sql`${dueAt} <= ${now.toISOString()}::timestamptz`))
    .limit(BATCH)
    .for('update', { skipLocked: true });
  for (const l of missed) {
    await tx.update(licenses).set({ checkInMissedAt: now }).where(eq(licenses.id, l.id));
    await rt.events.emit(tx, { type: 'io.zenokube.lms.check-in.missed', subject: l.id, data: { tenant: l.tenant, licenseId: l.id, productId: l.productId, dueAt: new Date(l.dueAt).toISOString() } });
  }
  return missed.length;
}

/** Runs one sweep in `tx` (the scheduled event's transaction). */
export async function sweepLicenses(rt: LmsRuntime, tx: Tx): Promise<{ expired: number; missed: number }> {
  const now = rt.now();
  return { expired: await expireDue(rt, tx, now), missed: await announceMissedCheckIns(rt, tx, now) };
}
