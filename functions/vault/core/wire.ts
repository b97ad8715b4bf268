// Vault's wire rules shared by the api and the unsealer, without HTTP: the response envelope and
// the lenient field parsers. Reading requests and writing responses is functions/vault/http/wire.ts.
// @see https://developer.hashicorp.com/vault/api-docs#http-status-codes
import { invalidRequest } from './errors.js';

/** The bound of integer fields (int32): a larger value is refused with a 400. */
export const INT32_MAX = 2 ** 31 - 1;

interface EnvelopeParts {
  data?: unknown;
  auth?: unknown;
  warnings?: string[] | null;
  leaseDuration?: number;
  renewable?: boolean;
  mountType?: string;
}

/** Vault's response envelope. */
export function envelope(requestId: string, parts: EnvelopeParts): Record<string, unknown> {
  return {
    request_id: requestId,
    lease_id: '',
    renewable: parts.renewable ?? false,
    lease_duration: parts.leaseDuration ?? 0,
    data: parts.data ?? null,
    wrap_info: null,
    warnings: parts.warnings ?? null,
    auth: parts.auth ?? null,
    mount_type: parts.mountType ?? '',
  };
}

/** An integer field of a body, accepting numbers and numeric strings (as Vault's field parser does). */
export function intField(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || Math.abs(n) > INT32_MAX) throw invalidRequest(`${key} must be an integer`);
  return n;
}

export function boolField(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalidRequest(`${key} must be a boolean`);
}

/** Postgres text and jsonb cannot hold NUL: refuse it in values stored in clear. */
export function assertNoNul(value: unknown, field: string): void {
  if (JSON.stringify(value ?? null).includes('\\u0000')) throw invalidRequest(`${field} must not contain NUL characters`);
}
