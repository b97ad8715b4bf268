// The pipeline's response-wrapping step: with `X-Vault-Wrap-TTL`, the handler's answer is stored
// encrypted under a new single-use wrapping token and the client gets Vault's `wrap_info` instead.
// The header is checked before the handler runs, so a bad one changes nothing.
// @see https://developer.hashicorp.com/vault/docs/concepts/response-wrapping
import type { Database } from '#shared/db/index';
import { invalidRequest } from '#functions/vault/core/errors';
import { envelope } from '#functions/vault/core/wire';
import { parseWrapTtl, wrapResponse } from '#functions/vault/core/wrapping';
import type { VaultRequest, VaultResponse } from './route.js';
import type { UnsealerClient } from './unsealer-client.js';

interface WrappingDeps {
  database: Database;
  unsealer: UnsealerClient;
}

/** Runs the handler (`run`) and wraps its answer when the request asks for it. */
export async function respondWrapped(deps: WrappingDeps, headers: Headers, req: VaultRequest, run: () => Promise<VaultResponse>): Promise<VaultResponse> {
  const ttl = parseWrapTtl(headers.get('x-vault-wrap-ttl'));
  // Vault: sys/wrapping/wrap exists only to be wrapped.
  if (ttl === undefined && req.path === 'sys/wrapping/wrap') throw invalidRequest('endpoint requires response wrapping to be used');
  const res = await run();
  // Nothing to wrap in an empty answer (Vault answers 204 unwrapped too).
  if (ttl === undefined || res.status !== 200 || !res.body) return res;
  const auth = res.body.auth as { accessor?: unknown } | null | undefined;
  const info = await wrapResponse(deps.database, deps.unsealer, await deps.unsealer.rowMac(), res.body, {
    ttlSeconds: ttl,
    creationPath: req.path,
    wrappedAccessor: typeof auth?.accessor === 'string' ? auth.accessor : '',
  });
  return { status: 200, body: { ...envelope(req.requestId, {}), wrap_info: info } };
}
