// Licenses: issue (the key is shown once), look up by key, validate, and the admin transitions
// suspend / reinstate / renew / revoke, each with its event and audit row in one transaction.
import { and, asc, eq } from 'drizzle-orm';
import type { Queryable, Tx } from '#shared/db/index';
import { recordAudit } from './audit.js';
import { generateLicenseKey } from './crypto.js';
import { notFound, unprocessable } from './errors.js';
import { defineEntitlements, getPolicy } from './policies.js';
import { validateLicense, type Validation, type ValidationScope } from './rules.js';
import type { Actor, LmsRuntime } from './runtime.js';
import { licenses, machines, policies, type License } from './schema.js';

interface LicenseInput {
  policy: string;
  entitlements?: string[] | undefined;
  metadata?: Record<string, unknown> | undefined;
  owner?: string | undefined;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const eventOf = (l: License) => ({ tenant: l.tenant, licenseId: l.id, productId: l.productId });

export async function issueLicense(rt: LmsRuntime, tenant: string, actor: Actor, input: LicenseInput): Promise<{ license: License; key: string }> {
  const key = generateLicenseKey();
  const codes = [...new Set(input.entitlements ?? [])];
  const license = await rt.database.transaction(async (tx) => {
    // KEY SHARE: a concurrent deletion of the policy (or its product) waits for us or we see it gone.
    const [policy] = await tx.select().from(policies).where(and(eq(policies.tenant, tenant), eq(policies.id, input.policy))).for('key share');
    if (!policy) throw notFound('policy');
    const now = rt.now();
    const expiresAt = policy.durationSeconds ? new Date(now.getTime() + policy.durationSeconds * 1000) : null;
    await defineEntitlements(tx, tenant, codes);
    const [row] = await tx
      .insert(licenses)
      .values({ tenant, productId: policy.productId, policyId: policy.id, keyHash: rt.hashKey(key), owner: input.owner ?? null, entitlements: codes, metadata: input.metadata ?? {}, status: 'active', expiresAt, createdAt: now })
      .returning();
    await rt.events.emit(tx, { type: 'io.zenokube.lms.license.issued', subject: row!.id, data: { ...eventOf(row!), policyId: policy.id, expiresAt: iso(expiresAt), actor: actor.sub } });
    await recordAudit(tx, tenant, actor, { action: 'license.issue', target: row!.id, detail: { policy: policy.id } });
    return row!;
  });
  return { license, key };
}

export async function getLicense(q: Queryable, tenant: string, id: string): Promise<License> {
  const [row] = await q.select().from(licenses).where(and(eq(licenses.tenant, tenant), eq(licenses.id, id)));
  if (!row) throw notFound('license');
  return row;
}

/** The license a key opens, in this tenant only; undefined for an unknown key. */
export async function licenseByKey(rt: LmsRuntime, tenant: string, key: string): Promise<License | undefined> {
  const [row] = await rt.database.db.select().from(licenses).where(and(eq(licenses.tenant, tenant), eq(licenses.keyHash, rt.hashKey(key))));
  return row;
}

export async function listLicenses(rt: LmsRuntime, tenant: string): Promise<License[]> {
  return rt.database.db.select().from(licenses).where(eq(licenses.tenant, tenant)).orderBy(asc(licenses.createdAt)).limit(1000);
}

export async function machinesOf(q: Queryable, tenant: string, licenseId: string) {
  return q.select().from(machines).where(and(eq(machines.tenant, tenant), eq(machines.licenseId, licenseId))).orderBy(asc(machines.createdAt));
}

/** Keygen's validate-key: a verdict, not an error, for a known key; NOT_FOUND for an unknown one. */
export async function validateKey(rt: LmsRuntime, tenant: string, key: string, scope: ValidationScope): Promise<Validation & { license?: License }> {
  const license = await licenseByKey(rt, tenant, key);
  if (!license) return { valid: false, code: 'NOT_FOUND' as Validation['code'], detail: 'No license has that key.' };
  const policy = await getPolicy(rt.database.db, tenant, license.policyId);
  return { ...validateLicense(license, policy, await machinesOf(rt.database.db, tenant, license.id), scope, rt.now()), license };
}

/** A change of the license's holder-facing fields; `null` clears the owner. */
interface LicensePatch {
  entitlements?: string[] | undefined;
  metadata?: Record<string, unknown> | undefined;
  owner?: string | null | undefined;
}

/** Replaces the given fields (metadata and entitlements whole); codes are defined on first use. */
export async function updateLicense(rt: LmsRuntime, tenant: string, actor: Actor, id: string, patch: LicensePatch): Promise<License> {
  return rt.database.transaction(async (tx) => {
    const license = await lockLicense(tx, tenant, id);
    const set: Partial<License> = {};
    if (patch.entitlements !== undefined) {
      set.entitlements = [...new Set(patch.entitlements)];
      await defineEntitlements(tx, tenant, set.entitlements);
    }
    if (patch.metadata !== undefined) set.metadata = patch.metadata;
    if (patch.owner !== undefined) set.owner = patch.owner;
    const [row] = Object.keys(set).length ? await tx.update(licenses).set(set).where(and(eq(licenses.tenant, tenant), eq(licenses.id, id))).returning() : [license];
    await recordAudit(tx, tenant, actor, { action: 'license.update', target: id, detail: { changed: Object.keys(patch) } });
    return row!;
  });
}

/**
 * Deletes a license and its machines. Tokens it checked out stay signed: they verify offline
 * until their `exp`, and a deleted revoked license leaves the revocation list.
 */
export async function deleteLicense(rt: LmsRuntime, tenant: string, actor: Actor, id: string): Promise<void> {
  await rt.database.transaction(async (tx) => {
    const license = await lockLicense(tx, tenant, id);
    const gone = await tx.delete(machines).where(and(eq(machines.tenant, tenant), eq(machines.licenseId, id))).returning({ id: machines.id });
    await tx.delete(licenses).where(and(eq(licenses.tenant, tenant), eq(licenses.id, id)));
    await rt.events.emit(tx, { type: 'io.zenokube.lms.license.deleted', subject: id, data: { ...eventOf(license), status: license.status, machines: gone.length, actor: actor.sub } });
    await recordAudit(tx, tenant, actor, { action: 'license.delete', target: id, detail: { status: license.status, machines: gone.length } });
  });
}

/** Locks the license row for a transition (concurrent transitions queue behind each other). */
export async function lockLicense(tx: Tx, tenant: string, id: string): Promise<License> {
  const [row] = await tx.select().from(licenses).where(and(eq(licenses.tenant, tenant), eq(licenses.id, id))).for('update');
  if (!row) throw notFound('license');
  return row;
}

type Transition = 'suspend' | 'reinstate' | 'renew' | 'revoke';

export async function transitionLicense(rt: LmsRuntime, tenant: string, actor: Actor, id: string, action: Transition): Promise<License> {
  return rt.database.transaction(async (tx) => {
    const license = await lockLicense(tx, tenant, id);
    if (license.status === 'revoked') throw unprocessable('license_revoked', 'A revoked license cannot change any more.');
    const now = rt.now();
    let set: Partial<License>;
    let type: string;
    let extra: Record<string, unknown> = {};
    if (action === 'suspend') {
      if (license.status !== 'active') throw unprocessable('license_not_active', 'Only an active license can be suspended.');
      [set, type] = [{ status: 'suspended' }, 'io.zenokube.lms.license.suspended'];
    } else if (action === 'reinstate') {
      if (license.status !== 'suspended') throw unprocessable('license_not_suspended', 'Only a suspended license can be reinstated.');
      [set, type] = [{ status: 'active' }, 'io.zenokube.lms.license.reinstated'];
    } else if (action === 'revoke') {
      [set, type] = [{ status: 'revoked', revokedAt: now }, 'io.zenokube.lms.license.revoked'];
    } else {
      const policy = await getPolicy(tx, tenant, license.policyId);
      if (!policy.durationSeconds || !license.expiresAt) throw unprocessable('license_perpetual', 'A perpetual license has nothing to renew.');
      // Renewing extends from the later of now and the current expiry: no time is lost or gained.
      const from = Math.max(now.getTime(), license.expiresAt.getTime());
      const expiresAt = new Date(from + policy.durationSeconds * 1000);
      set = { expiresAt, status: license.status === 'expired' ? 'active' : license.status, checkInMissedAt: null };
      type = 'io.zenokube.lms.license.renewed';
      extra = { expiresAt: expiresAt.toISOString() };
    }
    const [row] = await tx.update(licenses).set(set).where(and(eq(licenses.tenant, tenant), eq(licenses.id, id))).returning();
    await rt.events.emit(tx, { type, subject: id, data: { ...eventOf(license), ...extra, actor: actor.sub } });
    await recordAudit(tx, tenant, actor, { action: `license.${action}`, target: id });
    return row!;
  });
}
