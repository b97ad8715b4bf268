// Vault's HTTP conventions shared by the api and the unsealer: the lenient JSON body (any or no
// content type, empty means {}), the token headers and JSON answers. The envelope and the field
// rules, which need no HTTP, are in core/wire.ts.
// @see https://developer.hashicorp.com/vault/api-docs#authentication
import { unsafeJsonText } from '#shared/events/json-text';
import { VaultError, invalidRequest } from '#functions/vault/core/errors';

/** Vault's request body limit is configurable (32 MiB by default); ours is this, per request. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Deepest nesting of arrays and objects a body may have (deeper ones overflow recursive steps). */
const MAX_JSON_DEPTH = 64;
/** Most object members a body may hold, all levels together. */
const MAX_JSON_KEYS = 10_000;

/** Object members in JSON text: the `:` outside strings. One pass, no recursion. */
function memberCount(text: string): number {
  let n = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a /* : */) n++;
  }
  return n;
}

/** Reads a JSON object body; empty is `{}`; anything else is a Vault 400. */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > limit) throw new VaultError(413, 'too_large', [`request body too large: the limit is ${limit} bytes`]);
  const text = await req.text();
  if (Buffer.byteLength(text, 'utf8') > limit) throw new VaultError(413, 'too_large', [`request body too large: the limit is ${limit} bytes`]);
  if (text.trim() === '') return {};
  // Checked before parsing: JSON.parse and every recursive step after it may overflow the stack.
  const unsafe = unsafeJsonText(text, MAX_JSON_DEPTH);
  if (unsafe) throw invalidRequest(`failed to parse JSON input: ${unsafe}`);
  if (memberCount(text) > MAX_JSON_KEYS) throw invalidRequest(`failed to parse JSON input: it holds more than ${MAX_JSON_KEYS} keys`);
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

/** Why a request is refused for its namespace: only the root one exists (`X-Vault-Namespace`). */
export function unsupportedNamespace(headers: Headers): string | undefined {
  const namespace = (headers.get('x-vault-namespace') ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (namespace !== '' && namespace !== 'root') return 'namespaces are not supported';
  return undefined;
}

/**
 * Why a request to the unsealer's sys/ paths asks for what they do not implement: response
 * wrapping (`X-Vault-Wrap-TTL`; the api wraps, the unsealer does not) or a namespace.
 */
export function unsupportedFeature(headers: Headers): string | undefined {
  if ((headers.get('x-vault-wrap-ttl') ?? '').trim() !== '') return 'response wrapping is not supported';
  return unsupportedNamespace(headers);
}

/** `X-Vault-Token`, or `Authorization: Bearer <token>`. */
export function tokenFrom(headers: Headers): string | undefined {
  const direct = headers.get('x-vault-token');
  if (direct) return direct.trim() || undefined;
  const auth = headers.get('authorization');
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

export const noContent = () => new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
