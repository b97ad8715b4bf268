// The request bodies of the API, validated at the edge (shared/http/validate.ts): a malformed body
// is a 400 or 422 naming each problem, never a 500.
import { z } from 'zod';

const name = z.string().trim().min(1).max(200);
const uuid = z.uuid();
const duration = z.string().max(40);
/** Entitlement codes: free-form names, kept to a safe alphabet. */
const entitlementCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'an entitlement code is 1-64 letters, digits, . _ : -');
/** Machine fingerprints as products compute them (hashes, UUIDs): no whitespace, no slash. */
export const fingerprint = z.string().regex(/^[A-Za-z0-9._:=+-]{1,256}$/, 'a fingerprint is 1-256 letters, digits, . _ : = + -');
const METADATA_MAX = 8192;
const metadata = z
  .record(z.string().max(100), z.json())
  .refine((m) => JSON.stringify(m).length <= METADATA_MAX, `metadata is at most ${METADATA_MAX} bytes of JSON`);
const entitlementCodes = z.array(entitlementCode).max(100);
const limit = z.int().min(0).max(2 ** 31 - 1);

/** An entitlement named in a path: its id or its code. */
export const isEntitlementRef = (ref: string) => entitlementCode.safeParse(ref).success;

export const productBody = z.strictObject({ name });

export const policyBody = z.strictObject({
  product: uuid,
  name,
  maxMachines: z.int().min(1).max(100_000),
  duration: duration.optional(),
  floating: z.boolean().optional(),
  strict: z.boolean().optional(),
  overage: z.int().min(0).max(100_000).optional(),
  checkInInterval: duration.optional(),
  gracePeriod: duration.optional(),
});

/** PATCH bodies name only what changes; `product`, a license's `policy` and codes do not. */
export const productPatch = z.strictObject({ name });

export const policyPatch = z.strictObject({
  name: name.optional(),
  maxMachines: z.int().min(1).max(100_000).optional(),
  duration: duration.nullable().optional(),
  floating: z.boolean().optional(),
  strict: z.boolean().optional(),
  overage: z.int().min(0).max(100_000).optional(),
  checkInInterval: duration.nullable().optional(),
  gracePeriod: duration.optional(),
});

export const entitlementBody = z.strictObject({ code: entitlementCode, name: name.optional(), limit: limit.optional() });

export const entitlementPatch = z.strictObject({ name: name.nullable().optional(), limit: limit.nullable().optional() });

export const licenseBody = z.strictObject({
  policy: uuid,
  entitlements: entitlementCodes.optional(),
  metadata: metadata.optional(),
  owner: z.string().max(320).optional(),
});

export const licensePatch = z.strictObject({
  entitlements: entitlementCodes.optional(),
  metadata: metadata.optional(),
  owner: z.string().max(320).nullable().optional(),
});

export const validateBody = z.strictObject({
  key: z.string().max(200).optional(),
  fingerprint: fingerprint.optional(),
  entitlements: z.array(entitlementCode).max(100).optional(),
});

export const machineBody = z.strictObject({ fingerprint, name: name.optional(), platform: z.string().max(100).optional() });

export const checkInBody = z.strictObject({ fingerprint: fingerprint.optional() });

export const checkOutBody = z.strictObject({
  fingerprint: fingerprint.optional(),
  /** Seconds the token is valid: a minute to ten years. */
  ttl: z.int().min(60).max(10 * 365 * 86_400).optional(),
});

/** Air-gapped activation: the request file the offline machine wrote, as base64url of its JSON. */
export const offlineActivationBody = z.strictObject({
  request: z.string().max(4096).regex(/^[A-Za-z0-9_-]+$/, 'the request file is base64url'),
  ttl: z.int().min(60).max(10 * 365 * 86_400).optional(),
});

/** What the offline machine puts in its request file. */
export const activationRequest = z.object({
  license: z.uuid(),
  fingerprint,
  name: name.optional(),
  platform: z.string().max(100).optional(),
});
