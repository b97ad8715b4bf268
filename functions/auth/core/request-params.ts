// Request parameters shared by the authorization, PAR and token endpoints: scope (RFC 6749
// §3.3), resource indicators (RFC 8707 §2) and authorization_details (RFC 9396 §2).
import { OAuthError } from './oauth-error.js';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Splits a scope string; malformed tokens are `invalid_scope`. */
export function parseScope(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  if (value.length > 2000) throw new OAuthError('invalid_scope', 'The scope is too long.');
  // One scope (the common case of a service client) needs no splitting nor de-duplication.
  const out = value.includes(' ') ? [...new Set(value.split(' ').filter(Boolean))] : [value];
  for (const s of out) if (!SCOPE_TOKEN.test(s)) throw new OAuthError('invalid_scope', 'The scope contains a malformed token.');
  return out;
}

/** Requested scopes must all be allowed for the client. */
export function checkScopes(requested: string[], allowed: readonly string[]): void {
  const extra = requested.filter((s) => !allowed.includes(s));
  if (extra.length) throw new OAuthError('invalid_scope', `The client may not request: ${extra.join(' ').slice(0, 200)}.`);
}

/**
 * "The value of the resource parameter MUST be an absolute URI ... MUST NOT include a fragment
 * component." @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export function parseResources(values: string[]): string[] {
  if (values.length === 0) return values;
  if (values.length > 10) throw new OAuthError('invalid_target', 'Too many resource parameters.');
  for (const v of values) {
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      u = undefined;
    }
    if (!u || v.includes('#') || v.length > 1000) throw new OAuthError('invalid_target', 'Each resource must be an absolute URI without a fragment.');
  }
  return [...new Set(values)];
}

export type AuthorizationDetail = Record<string, unknown> & { type: string };

/**
 * Parses `authorization_details`: a JSON array of objects, each with a `type` the client may use.
 * @see https://www.rfc-editor.org/rfc/rfc9396#section-2 and §5 (invalid_authorization_details)
 */
export function parseAuthorizationDetails(value: string | undefined, allowedTypes: readonly string[]): AuthorizationDetail[] | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > 8192) throw new OAuthError('invalid_authorization_details', 'authorization_details is too large.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new OAuthError('invalid_authorization_details', 'authorization_details is not valid JSON.');
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 20) {
    throw new OAuthError('invalid_authorization_details', 'authorization_details must be a non-empty JSON array.');
  }
  for (const d of parsed) {
    if (typeof d !== 'object' || d === null || Array.isArray(d) || typeof (d as { type?: unknown }).type !== 'string') {
      throw new OAuthError('invalid_authorization_details', 'Each authorization detail must be an object with a string type.');
    }
    if (!allowedTypes.includes((d as { type: string }).type)) {
      throw new OAuthError('invalid_authorization_details', `The client may not request authorization details of type "${String((d as { type: string }).type).slice(0, 100)}".`);
    }
  }
  return parsed as AuthorizationDetail[];
}
