// Machines and tokens: activation (never beyond the policy's limit, however many race for the last
// seat), deactivation, check-in heartbeats, and check-out of a signed license token or machine file.
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { AppError } from '#shared/http/errors';
import { recordAudit } from './audit.js';
import { conflict, notFound, unprocessable } from './errors.js';
import { getLicense, lockLicense, machinesOf } from './licenses.js';
import { entitlementLimits, getPolicy } from './policies.js';
import { isUniqueViolation } from './products.js';
import { machineLimit, validateLicense } from './rules.js';
import type { Actor, LmsRuntime } from './runtime.js';
import { licenses, machines, type License, type Machine, type Policy } from './schema.js';
import { signLicenseToken } from './sign.js';
import type { LicenseClaims } from './token-claims.js';

interface MachineInput {
  fingerprint: string;
  name?: string | undefined;
  platform?: string | undefined;
}

/** A license that does not validate (suspended, expired, …) is refused with the validation code. */
function requireUsable(license: License, policy: Policy, list: Machine[], now: Date): void {
  const v = validateLicense(license, policy, list, {}, now);
  if (!v.valid && v.code !== 'TOO_MANY_MACHINES') throw unprocessable(v.code, v.detail);
}

/**
 * Activates a machine. The license row is locked first, so concurrent activations are serialised
 * and each counts the machines the previous ones committed: a strict policy never exceeds its limit.
 */
export async function activateMachine(rt: LmsRuntime, tenant: string, actor: Actor | null, licenseId: string, input: MachineInput): Promise<Machine> {
  try {
    return await rt.database.transaction(async (tx) => {
      const license = await lockLicense(tx, tenant, licenseId);
      const policy = await getPolicy(tx, tenant, license.policyId);
      const list = await machinesOf(tx, tenant, licenseId);
      requireUsable(license, policy, list, rt.now());
      if (list.some((m) => m.fingerprint === input.fingerprint)) throw conflict('FINGERPRINT_TAKEN', 'The machine is already activated for the license.');
      if (policy.strict && list.length >= machineLimit(policy)) throw unprocessable('TOO_MANY_MACHINES', 'The license has no machine seat left.');
      const [row] = await tx
        .insert(machines)
        .values({ tenant, licenseId, fingerprint: input.fingerprint, name: input.name ?? null, platform: input.platform ?? null, lastHeartbeatAt: rt.now() })
        .returning();
      await rt.events.emit(tx, { type: 'io.zenokube.lms.machine.activated', subject: licenseId, data: { tenant, licenseId, productId: license.productId, machineId: row!.id, fingerprint: input.fingerprint } });
      if (actor) await recordAudit(tx, tenant, actor, { action: 'machine.activate', target: licenseId, detail: { machine: row!.id } });
      return row!;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('FINGERPRINT_TAKEN', 'The machine is already activated for the license.');
    throw err;
  }
}

export async function deactivateMachine(rt: LmsRuntime, tenant: string, actor: Actor | null, licenseId: string, fingerprint: string): Promise<void> {
  await rt.database.transaction(async (tx) => {
    const license = await lockLicense(tx, tenant, licenseId);
    const [row] = await tx.delete(machines).where(and(eq(machines.tenant, tenant), eq(machines.licenseId, licenseId), eq(machines.fingerprint, fingerprint))).returning();
    if (!row) throw notFound('machine');
    await rt.events.emit(tx, { type: 'io.zenokube.lms.machine.deactivated', subject: licenseId, data: { tenant, licenseId, productId: license.productId, machineId: row.id, fingerprint } });
    if (actor) await recordAudit(tx, tenant, actor, { action: 'machine.deactivate', target: licenseId, detail: { machine: row.id } });
  });
}

/** A check-in: the license's, and the machine's heartbeat when a fingerprint is given. */
export async function checkIn(rt: LmsRuntime, tenant: string, licenseId: string, fingerprint: string | undefined): Promise<License> {
  return rt.database.transaction(async (tx) => {
    const license = await lockLicense(tx, tenant, licenseId);
    const policy = await getPolicy(tx, tenant, license.policyId);
    const list = await machinesOf(tx, tenant, licenseId);
    const v = validateLicense(license, policy, list, {}, rt.now());
    // A missed check-in is what a check-in cures; every other refusal stands.
    if (!v.valid && v.code !== 'CHECK_IN_OVERDUE' && v.code !== 'TOO_MANY_MACHINES') throw unprocessable(v.code, v.detail);
    if (fingerprint !== undefined) {
      const [m] = await tx.update(machines).set({ lastHeartbeatAt: rt.now() }).where(and(eq(machines.tenant, tenant), eq(machines.licenseId, licenseId), eq(machines.fingerprint, fingerprint))).returning();
      if (!m) throw notFound('machine');
    }
    const [row] = await tx.update(licenses).set({ lastCheckInAt: rt.now(), checkInMissedAt: null }).where(eq(licenses.id, license.id)).returning();
    return row!;
  });
}

const DEFAULT_TTL = 30 * 86_400;

/**
 * Signs a license token (or, with a fingerprint, a machine file) valid for `ttl` seconds, never
 * beyond the license's own expiry. A node-locked license's token names its one machine.
 */
export async function checkOut(rt: LmsRuntime, tenant: string, licenseId: string, opts: { fingerprint?: string | undefined; ttl?: number | undefined }): Promise<{ token: string; claims: LicenseClaims }> {
  const q = rt.database.db;
  const license = await getLicense(q, tenant, licenseId);
  const policy = await getPolicy(q, tenant, license.policyId);
  const list = await machinesOf(q, tenant, licenseId);
  const now = rt.now();
  requireUsable(license, policy, list, now);
  let machine: Machine | undefined;
  if (opts.fingerprint !== undefined) {
    machine = list.find((m) => m.fingerprint === opts.fingerprint);
    if (!machine) throw unprocessable('FINGERPRINT_SCOPE_MISMATCH', 'The fingerprint is not activated for the license.');
  } else if (!policy.floating) {
    if (!list[0]) throw unprocessable('NO_MACHINE', 'A node-locked license is checked out once its machine is activated.');
  }
  const signer = await rt.keys.signer(q, tenant, license.productId);
  if (!signer) throw notFound('signing key');
  const iat = Math.floor(now.getTime() / 1000);
  const licenseExpiresAt = license.expiresAt ? Math.floor(license.expiresAt.getTime() / 1000) : null;
  const exp = Math.min(iat + (opts.ttl ?? DEFAULT_TTL), licenseExpiresAt ?? Number.MAX_SAFE_INTEGER);
  const lock = machine ?? (!policy.floating ? list[0] : undefined);
  const claims: LicenseClaims = {
    iss: rt.issuer(tenant),
    sub: license.id,
    aud: license.productId,
    iat,
    nbf: iat,
    exp,
    jti: randomUUID(),
    tenant,
    entitlements: license.entitlements,
    limits: await entitlementLimits(q, tenant, license.entitlements),
    policy: {
      name: policy.name, maxMachines: policy.maxMachines, floating: policy.floating, strict: policy.strict, overage: policy.overage,
      checkInInterval: policy.checkInIntervalSeconds, grace: policy.graceSeconds,
    },
    licenseExpiresAt,
    ...(lock ? { fingerprint: lock.fingerprint } : {}),
    ...(machine ? { machine: { id: machine.id, name: machine.name } } : {}),
  };
  return { token: await signLicenseToken(signer, claims), claims };
}

/**
 * Air-gapped activation: activates the machine named in a request file (an already activated
 * fingerprint is no error: the response file may have been lost) and answers its machine file.
 */
export async function activateOffline(rt: LmsRuntime, tenant: string, actor: Actor | null, licenseId: string, input: MachineInput, ttl: number | undefined): Promise<{ token: string; machine: Machine }> {
  try {
    await activateMachine(rt, tenant, actor, licenseId, input);
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'FINGERPRINT_TAKEN')) throw err;
  }
  const { token } = await checkOut(rt, tenant, licenseId, { fingerprint: input.fingerprint, ttl });
  const [machine] = await rt.database.db.select().from(machines).where(and(eq(machines.tenant, tenant), eq(machines.licenseId, licenseId), eq(machines.fingerprint, input.fingerprint)));
  if (!machine) throw notFound('machine');
  return { token, machine };
}
