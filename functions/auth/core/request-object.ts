// Signed request objects (RFC 9101, JAR): verified with the client's registered keys, checked
// for audience, lifetime and replay, then turned back into the authorization request's
// parameters. Only signed objects are accepted: `alg: none` and HMAC never verify.
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { clientKeySet } from './client-keys.js';
import { OAuthError } from './oauth-error.js';
import { clientAssertionJtis, type Client, type Tenant } from './schema.js';

/** RFC 9101 §10.1 request_object_signing_alg_values_supported. */
export const REQUEST_OBJECT_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];
/** RFC 9101 §10.8: the media type a request object should declare. */
const REQUEST_OBJECT_TYP = 'oauth-authz-req+jwt';
const MAX_LENGTH = 16_384;
/** A request object lives at most this long (bounds the replay table); FAPI 2.0 Message Signing §5.3.1 says 60 minutes. */
const MAX_LIFETIME_SECONDS = 3600;
/** Claims that are the JWT's own, not authorization request parameters. */
const JWT_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sub']);
/** The replay table is shared with client assertions; a prefix keeps the two kinds apart. */
const JTI_PREFIX = 'request-object:';

const invalid = (description: string) => new OAuthError('invalid_request_object', description);

/**
 * Verifies `jwt` as a request object of `client` for `issuer` and returns the parameters it
 * carries. Throws `invalid_request_object` (RFC 9101 §6.2) for anything that does not verify.
 * @see https://www.rfc-editor.org/rfc/rfc9101#section-6
 */
export async function verifyRequestObject(q: Queryable, tenant: Tenant, client: Client, issuer: string, jwt: string): Promise<URLSearchParams> {
  if (jwt.length > MAX_LENGTH) throw invalid('The request object is too large.');
  let typ: string | undefined;
  try {
    ({ typ } = decodeProtectedHeader(jwt));
  } catch {
    throw invalid('The request object is not a signed JWT (encrypted request objects are not supported).');
  }
  if (jwt.split('.').length !== 3) throw invalid('The request object is not a signed JWT (encrypted request objects are not supported).');
  if (typ !== undefined && typ !== REQUEST_OBJECT_TYP && typ.toLowerCase() !== 'jwt' && typ !== `application/${REQUEST_OBJECT_TYP}`) {
    throw invalid(`The request object's typ must be ${REQUEST_OBJECT_TYP}.`);
  }
  const keys = clientKeySet(client);
  if (!keys) throw invalid('The client has no registered keys to verify a request object with.');
  let claims: JWTPayload;
  try {
    // RFC 9101 §4: iss SHOULD be the client_id and aud the issuer; FAPI 2.0 makes both required.
    ({ payload: claims } = await jwtVerify(jwt, keys, { issuer: client.clientId, audience: issuer, algorithms: REQUEST_OBJECT_ALGS, requiredClaims: ['exp', 'jti'], clockTolerance: 5 }));
  } catch (err) {
    throw invalid(describeFailure(err));
  }
  const now = Math.floor(Date.now() / 1000);
  if (claims.exp! > now + MAX_LIFETIME_SECONDS) throw invalid('The request object lives too long (exp more than an hour away).');
  if (claims.nbf !== undefined && claims.exp! - claims.nbf > MAX_LIFETIME_SECONDS) throw invalid('The request object is valid for too long (exp - nbf over an hour).');
  if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 200) throw invalid('The request object needs a jti.');
  if (client.securityProfile === 'fapi2' && claims.nbf === undefined) throw invalid('The request object needs nbf (FAPI 2.0 Message Signing §5.3.1).');
  // RFC 9101 §5: "request and request_uri parameters MUST NOT be included in Request Objects."
  if ('request' in claims || 'request_uri' in claims) throw invalid('A request object cannot carry request or request_uri.');
  if (claims.client_id !== undefined && claims.client_id !== client.clientId) throw invalid('The request object names another client_id.');
  const params = toParams(claims);
  const inserted = await q
    .insert(clientAssertionJtis)
    .values({ tenantId: tenant.id, clientId: client.id, jti: JTI_PREFIX + claims.jti, expiresAt: sql`to_timestamp(${claims.exp!})` })
    .onConflictDoNothing()
    .returning({ jti: clientAssertionJtis.jti });
  if (inserted.length === 0) throw invalid('The request object was already used (jti replayed).');
  return params;
}

function describeFailure(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'The request object has expired.';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'The request object must have the issuer as aud.';
    if (err.claim === 'iss') return 'The request object must have the client_id as iss.';
    if (err.claim === 'nbf') return 'The request object is not valid yet (nbf).';
    return `The request object's ${err.claim} claim is missing or wrong.`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return `The request object must be signed with one of ${REQUEST_OBJECT_ALGS.join(', ')}.`;
  return 'The request object did not verify with the client\'s registered keys.';
}

/**
 * Claims back to parameters: strings as they are, numbers (max_age) as decimals, an array of
 * strings (resource) as repeated parameters, objects and other arrays (authorization_details,
 * claims) as JSON, the way RFC 9101 §4 describes their encoding.
 */
function toParams(claims: JWTPayload): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(claims)) {
    if (JWT_CLAIMS.has(k) || v === undefined || v === null) continue;
    if (typeof v === 'string') p.append(k, v);
    else if (typeof v === 'number' || typeof v === 'boolean') p.append(k, String(v));
    else if (k === 'resource' && Array.isArray(v) && v.every((x) => typeof x === 'string')) for (const x of v) p.append(k, x);
    else p.append(k, JSON.stringify(v));
  }
  return p;
}
