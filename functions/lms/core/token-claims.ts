// The claims of what ZenoLMS signs: license tokens, machine files and revocation lists. Shared by
// the signer (core/sign.ts) and the offline verifier (core/verifier.ts); no I/O.

/** JOSE `typ` header values (RFC 7515 §4.1.9; RFC 8725 §3.11 explicit typing). */
export const TOKEN_TYPES = {
  license: 'license+jwt',
  machine: 'machine+jwt',
  revocations: 'revocations+jwt',
} as const;

/** The policy terms a token carries, so an offline product can enforce them. Durations in seconds. */
export interface PolicyTerms {
  name: string;
  maxMachines: number;
  floating: boolean;
  strict: boolean;
  overage: number;
  checkInInterval: number | null;
  grace: number;
}

/** The body of a license token or machine file (besides the registered claims). */
export interface LicenseClaims {
  /** RFC 7519 registered claims: `sub` is the license id, `aud` the product id. */
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  tenant: string;
  entitlements: string[];
  /** Numeric limits of the entitlements that have one. */
  limits: Record<string, number>;
  policy: PolicyTerms;
  /** The license's own expiry (seconds since the epoch); null = perpetual. */
  licenseExpiresAt: number | null;
  /** Node-locked licenses and machine files: the machine the token is bound to. */
  fingerprint?: string;
  /** Machine files: the activation. */
  machine?: { id: string; name: string | null };
}

/** The body of a signed revocation list. */
export interface RevocationClaims {
  iss: string;
  aud: string;
  iat: number;
  jti: string;
  /** Ids of the revoked licenses of the product. */
  revoked: string[];
}
