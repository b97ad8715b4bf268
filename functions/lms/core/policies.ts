// Policies (the terms licenses are issued under) and entitlements (named feature flags).
import { and, asc, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { recordAudit } from './audit.js';
import { parseDuration } from './duration.js';
import { conflict, notFound, unprocessable } from './errors.js';
import { getProduct, isUniqueViolation } from './products.js';
import type { Actor, LmsRuntime } from './runtime.js';
import { entitlements, licenses, policies, type Policy } from './schema.js';

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

export async function deletePolicy(rt: LmsRuntime, tenant: string, actor: Actor, id: string): Promise<void> {
  await rt.database.transaction(async (tx) => {
    await getPolicy(tx, tenant, id);
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
