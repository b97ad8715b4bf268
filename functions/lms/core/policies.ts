// Policies (the terms licenses are issued under) and entitlements (named feature flags).
import { and, asc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { recordAudit } from './audit.js';
import { parseDuration } from './duration.js';
import { conflict, notFound, unprocessable } from './errors.js';
import { getProduct, isForeignKeyViolation, isUniqueViolation } from './products.js';
import type { Actor, LmsRuntime } from './runtime.js';
import { entitlements, licenses, policies, type Entitlement, type Policy } from './schema.js';

interface PolicyInput {
  product: string;
  name: string;
  maxMachines: number;
  duration?: string | undefined;
  floating?: boolean | undefined;
  strict?: boolean | undefined;
  overage?: number | undefined;
  checkInInterval?: string | undefined;
  gracePeriod?: string | undefined;
}

function seconds(field: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  const s = parseDuration(value);
  if (s === undefined) throw unprocessable('invalid_duration', `${field} is not an ISO 8601 duration such as P30D.`);
  return s;
}

export async function createPolicy(rt: LmsRuntime, tenant: string, actor: Actor, input: PolicyInput): Promise<Policy> {
  await getProduct(rt, tenant, input.product);
  const values = {
    tenant,
    productId: input.product,
    name: input.name,
    duration: input.duration ?? null,
    durationSeconds: seconds('duration', input.duration),
    maxMachines: input.maxMachines,
    // One machine and no word on it: node-locked, as Keygen's default.
    floating: input.floating ?? input.maxMachines > 1,
    strict: input.strict ?? true,
    overage: input.overage ?? 0,
    checkInIntervalSeconds: seconds('checkInInterval', input.checkInInterval),
    graceSeconds: seconds('gracePeriod', input.gracePeriod) ?? 0,
  };
  if (!values.floating && values.maxMachines !== 1) throw unprocessable('invalid_policy', 'A node-locked policy allows exactly one machine.');
  try {
    return await rt.database.transaction(async (tx) => {
      const [row] = await tx.insert(policies).values(values).returning();
      await recordAudit(tx, tenant, actor, { action: 'policy.create', target: row!.id, detail: { name: input.name } });
      return row!;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('policy_exists', 'A policy of that name exists for the product.');
    if (isForeignKeyViolation(err)) throw notFound('product');
    throw err;
  }
}

export async function getPolicy(q: Queryable, tenant: string, id: string): Promise<Policy> {
  const [row] = await q.select().from(policies).where(and(eq(policies.tenant, tenant), eq(policies.id, id)));
  if (!row) throw notFound('policy');
  return row;
}

export async function listPolicies(rt: LmsRuntime, tenant: string): Promise<Policy[]> {
  return rt.database.db.select().from(policies).where(eq(policies.tenant, tenant)).orderBy(asc(policies.createdAt)).limit(1000);
}

/** A change of terms; `null` clears `duration` (perpetual) or `checkInInterval` (none). */
interface PolicyPatch {
  name?: string | undefined;
  maxMachines?: number | undefined;
  duration?: string | null | undefined;
  floating?: boolean | undefined;
  strict?: boolean | undefined;
  overage?: number | undefined;
  checkInInterval?: string | null | undefined;
  gracePeriod?: string | undefined;
}

/**
 * Changes a policy's terms. They apply at once to every license under it, as validation and
 * activation read the policy each time; expiry dates already set stay (a new `duration` counts
 * from the next renewal). Lowering `maxMachines` below the machines a license has deactivates
 * none of them: new activations are refused and validation answers TOO_MANY_MACHINES until the
 * holder deactivates enough.
 */
export async function updatePolicy(rt: LmsRuntime, tenant: string, actor: Actor, id: string, patch: PolicyPatch): Promise<Policy> {
  const set: Partial<Policy> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.maxMachines !== undefined) set.maxMachines = patch.maxMachines;
  if (patch.floating !== undefined) set.floating = patch.floating;
  if (patch.strict !== undefined) set.strict = patch.strict;
  if (patch.overage !== undefined) set.overage = patch.overage;
  if (patch.duration !== undefined) [set.duration, set.durationSeconds] = [patch.duration, seconds('duration', patch.duration ?? undefined)];
  if (patch.checkInInterval !== undefined) set.checkInIntervalSeconds = seconds('checkInInterval', patch.checkInInterval ?? undefined);
  if (patch.gracePeriod !== undefined) set.graceSeconds = seconds('gracePeriod', patch.gracePeriod) ?? 0;
  try {
    return await rt.database.transaction(async (tx) => {
      const [current] = await tx.select().from(policies).where(and(eq(policies.tenant, tenant), eq(policies.id, id))).for('update');
      if (!current) throw notFound('policy');
      const next = { ...current, ...set };
      if (!next.floating && next.maxMachines !== 1) throw unprocessable('invalid_policy', 'A node-locked policy allows exactly one machine.');
      const [row] = Object.keys(set).length ? await tx.update(policies).set(set).where(and(eq(policies.tenant, tenant), eq(policies.id, id))).returning() : [current];
      await recordAudit(tx, tenant, actor, { action: 'policy.update', target: id, detail: { changed: Object.keys(patch) } });
      return row!;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('policy_exists', 'A policy of that name exists for the product.');
    throw err;
  }
}

export async function deletePolicy(rt: LmsRuntime, tenant: string, actor: Actor, id: string): Promise<void> {
  await rt.database.transaction(async (tx) => {
    // The lock queues a license being issued under the policy behind us (and us behind it).
    const [row] = await tx.select({ id: policies.id }).from(policies).where(and(eq(policies.tenant, tenant), eq(policies.id, id))).for('update');
    if (!row) throw notFound('policy');
    const [used] = await tx.select({ id: licenses.id }).from(licenses).where(and(eq(licenses.tenant, tenant), eq(licenses.policyId, id))).limit(1);
    if (used) throw conflict('policy_in_use', 'Licenses are issued under the policy.');
    await tx.delete(policies).where(and(eq(policies.tenant, tenant), eq(policies.id, id)));
    await recordAudit(tx, tenant, actor, { action: 'policy.delete', target: id });
  });
}

export async function createEntitlement(rt: LmsRuntime, tenant: string, actor: Actor, input: { code: string; name?: string | undefined; limit?: number | undefined }) {
  try {
    return await rt.database.transaction(async (tx) => {
      const [row] = await tx.insert(entitlements).values({ tenant, code: input.code, name: input.name ?? null, limit: input.limit ?? null }).returning();
      await recordAudit(tx, tenant, actor, { action: 'entitlement.create', target: row!.id, detail: { code: input.code } });
      return row!;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('entitlement_exists', 'An entitlement of that code exists.');
    throw err;
  }
}

export async function listEntitlements(rt: LmsRuntime, tenant: string) {
  return rt.database.db.select().from(entitlements).where(eq(entitlements.tenant, tenant)).orderBy(asc(entitlements.code)).limit(1000);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `ref` is the entitlement's id or its code. */
const entitlementWhere = (tenant: string, ref: string) =>
  and(eq(entitlements.tenant, tenant), UUID.test(ref) ? eq(entitlements.id, ref.toLowerCase()) : eq(entitlements.code, ref));

export async function getEntitlement(q: Queryable, tenant: string, ref: string): Promise<Entitlement> {
  const [row] = await q.select().from(entitlements).where(entitlementWhere(tenant, ref));
  if (!row) throw notFound('entitlement');
  return row;
}

/** Changes the name or the limit (`null` clears them); the code, which licenses hold, stays. */
export async function updateEntitlement(rt: LmsRuntime, tenant: string, actor: Actor, ref: string, patch: { name?: string | null | undefined; limit?: number | null | undefined }): Promise<Entitlement> {
  return rt.database.transaction(async (tx) => {
    const set: Partial<Entitlement> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.limit !== undefined) set.limit = patch.limit;
    const [row] = Object.keys(set).length ? await tx.update(entitlements).set(set).where(entitlementWhere(tenant, ref)).returning() : [await getEntitlement(tx, tenant, ref)];
    if (!row) throw notFound('entitlement');
    await recordAudit(tx, tenant, actor, { action: 'entitlement.update', target: row.id, detail: { code: row.code, changed: Object.keys(patch) } });
    return row;
  });
}

/**
 * Deletes an entitlement no license holds (409 otherwise: take it off the licenses first). A
 * license issued with the code afterwards defines it again, as on first use.
 */
export async function deleteEntitlement(rt: LmsRuntime, tenant: string, actor: Actor, ref: string): Promise<void> {
  await rt.database.transaction(async (tx) => {
    const [row] = await tx.select().from(entitlements).where(entitlementWhere(tenant, ref)).for('update');
    if (!row) throw notFound('entitlement');
    const [held] = await tx
      .select({ id: licenses.id })
      .from(licenses)
      .where(and(eq(licenses.tenant, tenant), sql`${licenses.entitlements} @> ${JSON.stringify([row.code])}::jsonb`))
      .limit(1);
    if (held) throw conflict('entitlement_in_use', 'Licenses hold the entitlement.');
    await tx.delete(entitlements).where(and(eq(entitlements.tenant, tenant), eq(entitlements.id, row.id)));
    await recordAudit(tx, tenant, actor, { action: 'entitlement.delete', target: row.id, detail: { code: row.code } });
  });
}

/** Defines the codes not defined yet (entitlements are defined on first use). */
export async function defineEntitlements(tx: Queryable, tenant: string, codes: string[]): Promise<void> {
  if (codes.length === 0) return;
  await tx.insert(entitlements).values(codes.map((code) => ({ tenant, code }))).onConflictDoNothing();
}

/** The numeric limits of the given entitlement codes that have one. */
export async function entitlementLimits(q: Queryable, tenant: string, codes: string[]): Promise<Record<string, number>> {
  if (codes.length === 0) return {};
  const rows = await q
    .select({ code: entitlements.code, limit: entitlements.limit })
    .from(entitlements)
    .where(and(eq(entitlements.tenant, tenant), inArray(entitlements.code, codes), isNotNull(entitlements.limit)));
  return Object.fromEntries(rows.map((r) => [r.code, r.limit!]));
}
