// Vault's wire conventions shared by the api and the unsealer: the lenient JSON body (any or no
// content type, empty means {}), the token headers and the response envelope.
// @see https://developer.hashicorp.com/vault/api-docs#authentication
// @see https://developer.hashicorp.com/vault/api-docs#http-status-codes
import { VaultError, invalidRequest } from './errors.js';

/** Vault's request body limit is configurable (32 MiB by default); ours is this, per request. */
export const INT32_MAX = 2 ** 31 - 1;

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a JSON object body; empty is `{}`; anything else is a Vault 400. */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > limit) throw new VaultError(413, 'too_large', [`request body too large: the limit is ${limit} bytes`]);
  const text = await req.text();
  if (Buffer.byteLength(text, 'utf8') > limit) throw new VaultError(413, 'too_large', [`request body too large: the limit is ${limit} bytes`]);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidRequest(`failed to parse JSON input: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidRequest('failed to parse JSON input: the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** `X-Vault-Token`, or `Authorization: Bearer <token>`. */
export function tokenFrom(headers: Headers): string | undefined {
  const direct = headers.get('x-vault-token');
  if (direct) return direct.trim() || undefined;
  const auth = headers.get('authorization');
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

export interface EnvelopeParts {
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

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

export const noContent = () => new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });

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
