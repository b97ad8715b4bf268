// ZenoLMS's event types: what other functions can subscribe to. Payloads carry ids, never keys.
import { z } from 'zod';
import { defineEventType } from './define.js';

const tenant = z.object({ tenant: z.string() });
const license = tenant.extend({ licenseId: z.string(), productId: z.string() });
const actor = z.string().nullable();

const def = <S extends z.ZodType>(noun: string, verb: string, description: string, schema: S) =>
  defineEventType({ type: `io.zenokube.lms.${noun}.${verb}`, version: '1', description, schema });

const licenseIssued = def('license', 'issued', 'A license was issued under a policy.', license.extend({ policyId: z.string(), expiresAt: z.string().nullable(), actor }));
const licenseSuspended = def('license', 'suspended', 'A license was suspended; it validates again once reinstated.', license.extend({ actor }));
const licenseReinstated = def('license', 'reinstated', 'A suspended license was reinstated.', license.extend({ actor }));
const licenseRenewed = def('license', 'renewed', "A license's term was extended by its policy's duration.", license.extend({ expiresAt: z.string().nullable(), actor }));
const licenseRevoked = def('license', 'revoked', 'A license was revoked for good; it is on the revocation list.', license.extend({ actor }));
const licenseDeleted = def('license', 'deleted', 'A license was deleted with its machines; tokens it checked out verify offline until they expire.', license.extend({ status: z.string(), machines: z.number().int(), actor }));
const licenseExpired = def('license', 'expired', 'A license passed its expiry and grace period.', license.extend({ expiresAt: z.string() }));
const machineActivated = def('machine', 'activated', 'A machine was activated for a license.', license.extend({ machineId: z.string(), fingerprint: z.string() }));
const machineDeactivated = def('machine', 'deactivated', 'A machine was deactivated.', license.extend({ machineId: z.string(), fingerprint: z.string() }));
const checkInMissed = def('check-in', 'missed', 'A license did not check in within its interval and grace period.', license.extend({ dueAt: z.string() }));

/** Fired by the api's schedule: expire licenses, announce missed check-ins. */
const sweepScheduled = def('sweep', 'scheduled', 'Time to expire licenses and announce missed check-ins.', z.object({ schedule: z.string() }).loose());

export const lmsEvents = [
  licenseIssued, licenseSuspended, licenseReinstated, licenseRenewed, licenseRevoked, licenseDeleted, licenseExpired,
  machineActivated, machineDeactivated, checkInMissed, sweepScheduled,
] as const;
