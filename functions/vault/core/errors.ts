// Vault's error shape, `{"errors": [...]}`, with Vault's status codes.
// @see https://developer.hashicorp.com/vault/api-docs#error-response
import { asDatabaseUnavailable } from '#shared/db/errors';
import { AppError } from '#shared/http/errors';

export class VaultError extends AppError {
  readonly messages: string[];
  constructor(status: number, code: string, messages: string[], opts: { cause?: unknown; headers?: Record<string, string> } = {}) {
    super(status, code, messages[0] ?? 'error', opts);
    this.name = 'VaultError';
    this.messages = messages;
  }

  override getResponse(): Response {
    // A 503 says when to come back (sealed, storage or unsealer unavailable): clients may retry,
    // and the ingress does not take it for a dead backend.
    const retry: Record<string, string> = this.status === 503 ? { 'retry-after': '1' } : {};
    return new Response(JSON.stringify({ errors: this.messages }), {
      status: this.status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...retry, ...this.headers },
    });
  }
}

export const invalidRequest = (message: string) => new VaultError(400, 'invalid_request', [message]);
export const permissionDenied = () => new VaultError(403, 'permission_denied', ['permission denied']);
/** Vault answers an unknown or absent path with 404 and an empty list. */
export const notFoundError = () => new VaultError(404, 'not_found', []);
export const unsupportedOperation = () => new VaultError(405, 'unsupported_operation', ['unsupported operation']);
export const sealedError = () => new VaultError(503, 'sealed', ['Vault is sealed']);

/**
 * The Vault rendering of a failure: a VaultError as it is, a database that cannot serve the
 * request for now as a 503 with Retry-After (Vault's clients retry 5xx), anything else undefined.
 */
export function toVaultError(err: unknown): VaultError | undefined {
  if (err instanceof VaultError) return err;
  const unavailable = asDatabaseUnavailable(err);
  if (!unavailable) return undefined;
  return new VaultError(503, unavailable.code, ['storage is temporarily unavailable; retry the request'], {
    headers: { 'retry-after': String(unavailable.retryAfterSeconds) },
    cause: unavailable,
  });
}

/**
 * An error the platform answers itself (body too large, no route, the fixed 500) in Vault's
 * shape, so that no answer of the vault is problem+json.
 */
export function vaultShaped(err: AppError): Response {
  if (err instanceof VaultError) return err.getResponse();
  return new VaultError(err.status, err.code, [err.detail ?? err.message], { headers: err.headers ?? {} }).getResponse();
}
