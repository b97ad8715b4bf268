// The rules of validation, as Keygen states them: given a license, its policy, its machines and
// the time, is it valid and, if not, why. Pure: no database, no clock of its own.
// @see https://keygen.sh/docs/api/licenses/#licenses-actions-validate-key (the codes)
import type { License, Machine, Policy } from './schema.js';

export type ValidationCode =
  | 'VALID'
  | 'SUSPENDED'
  | 'REVOKED'
  | 'EXPIRED'
  | 'CHECK_IN_OVERDUE'
  | 'TOO_MANY_MACHINES'
  | 'NO_MACHINE'
  | 'NO_MACHINES'
  | 'FINGERPRINT_SCOPE_MISMATCH'
  | 'ENTITLEMENTS_MISSING';

export interface Validation {
  valid: boolean;
  code: ValidationCode;
  detail: string;
}

export interface ValidationScope {
  fingerprint?: string | undefined;
  entitlements?: string[] | undefined;
}

const ok = (detail: string): Validation => ({ valid: true, code: 'VALID', detail });
const no = (code: ValidationCode, detail: string): Validation => ({ valid: false, code, detail });

/** The number of machines a policy admits (strict policies add their overage allowance). */
export function machineLimit(policy: Policy): number {
  return policy.maxMachines + (policy.strict ? policy.overage : 0);
}

/** When the license stops validating, grace included; null = never (perpetual). */
function validUntil(license: License, policy: Policy): Date | null {
  return license.expiresAt ? new Date(license.expiresAt.getTime() + policy.graceSeconds * 1000) : null;
}

/** When the next check-in is due, grace included; null when the policy asks for none. */
function checkInDue(license: License, policy: Policy): Date | null {
  if (!policy.checkInIntervalSeconds) return null;
  const from = license.lastCheckInAt ?? license.createdAt;
  return new Date(from.getTime() + (policy.checkInIntervalSeconds + policy.graceSeconds) * 1000);
}

export function validateLicense(license: License, policy: Policy, machines: Machine[], scope: ValidationScope, now: Date): Validation {
  if (license.status === 'revoked') return no('REVOKED', 'The license was revoked.');
  if (license.status === 'suspended') return no('SUSPENDED', 'The license is suspended.');
  const until = validUntil(license, policy);
  if (license.status === 'expired' || (until && now >= until)) return no('EXPIRED', 'The license has expired.');
  const due = checkInDue(license, policy);
  if (due && now >= due) return no('CHECK_IN_OVERDUE', 'The license missed its check-in.');
  if (scope.entitlements?.some((e) => !license.entitlements.includes(e))) {
    return no('ENTITLEMENTS_MISSING', 'The license lacks an entitlement the scope asks for.');
  }
  if (machines.length > machineLimit(policy)) return no('TOO_MANY_MACHINES', 'More machines are activated than the policy allows.');
  if (scope.fingerprint !== undefined) {
    if (machines.length === 0) return no(policy.floating ? 'NO_MACHINES' : 'NO_MACHINE', 'No machine is activated for the license.');
    if (!machines.some((m) => m.fingerprint === scope.fingerprint)) return no('FINGERPRINT_SCOPE_MISMATCH', 'The fingerprint is not activated for the license.');
  }
  const inGrace = license.expiresAt && now >= license.expiresAt;
  return ok(inGrace ? 'The license has expired and is in its grace period.' : 'The license is valid.');
}
