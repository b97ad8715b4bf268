// The WebAuthn ceremonies (W3C WebAuthn Level 3 §7) on @simplewebauthn/server: options for the
// browser, and verification of its answer against the tenant's relying party. Challenges and the
// signature counter are checked by the callers against the database; this module is pure.
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { WebauthnCredential } from './schema.js';
import type { RelyingParty } from './webauthn-settings.js';

/** Loaded on first use: the sign-in path without passkeys never pays for it. */
const library = () => import('@simplewebauthn/server');

const TIMEOUT_MS = 120_000;
/** An assertion or attestation larger than this is no authenticator's answer. */
const MAX_RESPONSE_CHARS = 64_000;

/** Why a ceremony was refused; stable codes for the audit trail and tests. */
type PasskeyFailure =
  | 'malformed_response'
  | 'challenge_unknown'
  | 'challenge_expired'
  | 'unknown_credential'
  | 'wrong_user'
  | 'verification_failed'
  | 'counter_regression'
  | 'already_registered'
  | 'too_many_passkeys';

export class PasskeyError extends Error {
  readonly code: PasskeyFailure;
  constructor(code: PasskeyFailure, cause?: unknown) {
    super(code, cause === undefined ? undefined : { cause });
    this.name = 'PasskeyError';
    this.code = code;
  }
}

const b64url = /^[A-Za-z0-9_-]*$/;
const str = (v: unknown, max = MAX_RESPONSE_CHARS): v is string => typeof v === 'string' && v.length <= max && b64url.test(v);

/** Parses the JSON the page posts (PublicKeyCredential.toJSON() shape), or throws malformed_response. */
export function parseRegistrationResponse(text: string): RegistrationResponseJSON {
  const v = parseJson(text);
  const r = v.response as Record<string, unknown> | undefined;
  if (!str(v.id, 1400) || !str(v.rawId, 1400) || v.type !== 'public-key' || !r || !str(r.clientDataJSON) || !str(r.attestationObject)) throw new PasskeyError('malformed_response');
  const transports = Array.isArray(r.transports) ? r.transports.filter((t): t is string => typeof t === 'string' && t.length < 32).slice(0, 8) : [];
  return { id: v.id, rawId: v.rawId, type: 'public-key', response: { clientDataJSON: r.clientDataJSON, attestationObject: r.attestationObject, transports: transports as never }, clientExtensionResults: {} };
}

export function parseAuthenticationResponse(text: string): AuthenticationResponseJSON {
  const v = parseJson(text);
  const r = v.response as Record<string, unknown> | undefined;
  if (!str(v.id, 1400) || !str(v.rawId, 1400) || v.type !== 'public-key' || !r || !str(r.clientDataJSON) || !str(r.authenticatorData) || !str(r.signature)) throw new PasskeyError('malformed_response');
  if (r.userHandle !== undefined && r.userHandle !== null && !str(r.userHandle, 128)) throw new PasskeyError('malformed_response');
  const userHandle = typeof r.userHandle === 'string' && r.userHandle ? r.userHandle : undefined;
  return { id: v.id, rawId: v.rawId, type: 'public-key', response: { clientDataJSON: r.clientDataJSON, authenticatorData: r.authenticatorData, signature: r.signature, ...(userHandle ? { userHandle } : {}) }, clientExtensionResults: {} };
}

function parseJson(text: string): Record<string, unknown> {
  if (text.length > MAX_RESPONSE_CHARS) throw new PasskeyError('malformed_response');
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new PasskeyError('malformed_response');
}

/** The challenge inside clientDataJSON (§5.8.1), to find the stored one before verifying. */
export function challengeOf(response: { response: { clientDataJSON: string } }): string {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    if (typeof data.challenge === 'string' && b64url.test(data.challenge)) return data.challenge;
  } catch {
    // fall through
  }
  throw new PasskeyError('malformed_response');
}

/** The library takes a string challenge as UTF-8 text; ours is base64url of random bytes. */
const challengeBytes = (challenge: string) => new Uint8Array(Buffer.from(challenge, 'base64url'));

/** The WebAuthn user handle of a user (§14.6.1: opaque, no personal data): the bytes of the user's UUID. */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replace(/-/g, ''), 'hex'));
}

export async function registrationOptions(
  rp: RelyingParty,
  user: { id: string; username: string; name: string | null },
  challenge: string,
  existing: readonly WebauthnCredential[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await library();
  return generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpId,
    userName: user.username,
    userDisplayName: user.name ?? user.username,
    userID: userHandleOf(user.id),
    challenge: challengeBytes(challenge),
    timeout: TIMEOUT_MS,
    attestationType: rp.attestation,
    // A discoverable credential, so the passkey also signs in without a username.
    authenticatorSelection: { residentKey: 'required', userVerification: rp.userVerification },
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports })),
  });
}

interface VerifiedRegistration {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  aaguid: string;
  attestationFormat: string;
}

/** §7.1 Registering a new credential: challenge, origin, RP ID hash, flags, attestation. */
export async function verifyRegistration(rp: RelyingParty, response: RegistrationResponseJSON, challenge: string): Promise<VerifiedRegistration> {
  const { verifyRegistrationResponse } = await library();
  let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: rp.userVerification === 'required',
    });
  } catch (err) {
    throw new PasskeyError('verification_failed', err);
  }
  if (!result.verified) throw new PasskeyError('verification_failed');
  const info = result.registrationInfo;
  return {
    credentialId: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: response.response.transports ?? [],
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid: info.aaguid,
    attestationFormat: info.fmt,
  };
}

export async function authenticationOptions(rp: RelyingParty, challenge: string, allow: readonly WebauthnCredential[] | undefined, userVerification: RelyingParty['userVerification']): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await library();
  return generateAuthenticationOptions({
    rpID: rp.rpId,
    challenge: challengeBytes(challenge),
    timeout: TIMEOUT_MS,
    userVerification,
    ...(allow ? { allowCredentials: allow.map((c) => ({ id: c.credentialId, transports: c.transports })) } : {}),
  });
}

interface VerifiedAssertion {
  newCounter: number;
  userVerified: boolean;
  backedUp: boolean;
}

/**
 * §7.2 Verifying an authentication assertion. The stored counter is checked by the caller in the
 * same UPDATE that advances it (`advanceCounter`), so the library is handed 0 here.
 */
export async function verifyAssertion(rp: RelyingParty, response: AuthenticationResponseJSON, challenge: string, credential: WebauthnCredential, requireUserVerification: boolean): Promise<VerifiedAssertion> {
  const { verifyAuthenticationResponse } = await library();
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: { id: credential.credentialId, publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')), counter: 0, transports: credential.transports },
      requireUserVerification,
    });
    if (!result.verified) throw new PasskeyError('verification_failed');
    const i = result.authenticationInfo;
    return { newCounter: i.newCounter, userVerified: i.userVerified, backedUp: i.credentialBackedUp };
  } catch (err) {
    if (err instanceof PasskeyError) throw err;
    throw new PasskeyError('verification_failed', err);
  }
}

/**
 * RFC 8176 §2: "hwk" for a key bound to one device, "swk" for one a sync fabric copies between
 * devices (WebAuthn §6.1.3 backup eligibility: a multi-device credential lives in software).
 */
export function amrOfPasskey(c: Pick<WebauthnCredential, 'deviceType'>): 'hwk' | 'swk' {
  return c.deviceType === 'multiDevice' ? 'swk' : 'hwk';
}
