// sys/wrapping/wrap, unwrap, lookup and rewrap. Unwrap and rewrap take the wrapping token as the
// caller's token, or in the body (`token`) with the caller's own token authorising the call;
// lookup needs no token of its own, as in Vault.
// @see https://developer.hashicorp.com/vault/api-docs/system/wrapping-unwrap
import type { Database } from '#shared/db/index';
import { invalidRequest, permissionDenied } from '#functions/vault/core/errors';
import type { AclCache } from '#functions/vault/core/policy-store';
import { useToken } from '#functions/vault/core/tokens';
import { envelope } from '#functions/vault/core/wire';
import { lookupWrapped, rewrapResponse, unwrapResponse } from '#functions/vault/core/wrapping';
import { ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';
import type { UnsealerClient } from './unsealer-client.js';

export function wrappingRoutes(database: Database, unsealer: UnsealerClient, acls: AclCache): VaultRoute[] {
  const db = database.db;

  /**
   * The wrapping token a call names: `token` in the body, the caller's token then authorising the
   * call on this path (and spending one of its uses, as any call does); else the caller's token.
   */
  const wrappingTokenOf = async (req: VaultRequest, authorise: boolean): Promise<string> => {
    const named = req.body.token;
    if (named !== undefined && named !== null && named !== '') {
      if (typeof named !== 'string') throw invalidRequest('token must be a string');
      if (authorise) {
        const caller = req.clientToken ? await useToken(db, await unsealer.rowMac(), req.clientToken) : undefined;
        if (!caller) throw permissionDenied();
        req.token = caller;
        const acl = await acls.get(caller.policies);
        if (!acl.allows(req.path, 'update')) throw permissionDenied();
      }
      return named;
    }
    if (!req.clientToken) throw authorise ? permissionDenied() : invalidRequest('missing "token" value in input');
    return req.clientToken;
  };

  return [
    // The answer is wrapped by the pipeline's wrapping step (api/response-wrapping.ts).
    { pattern: /^sys\/wrapping\/wrap$/, handlers: { update: async (req) => ok(req, { data: req.body }) } },
    {
      pattern: /^sys\/wrapping\/unwrap$/,
      unauthenticated: true,
      handlers: {
        update: async (req) => {
          const token = await wrappingTokenOf(req, true);
          const { body, tokenRow } = await unwrapResponse(database, unsealer, await unsealer.rowMac(), token);
          req.token ??= tokenRow;
          // The original answer as it was, as Vault returns it; the audit device HMACs its strings.
          return { status: 200, body };
        },
      },
    },
    {
      pattern: /^sys\/wrapping\/lookup$/,
      unauthenticated: true,
      handlers: {
        update: async (req) => {
          const token = await wrappingTokenOf(req, false);
          const { wrapped } = await lookupWrapped(db, await unsealer.rowMac(), token);
          return ok(req, {
            data: {
              creation_path: wrapped.creationPath,
              creation_time: wrapped.creationTime.toISOString(),
              creation_ttl: wrapped.ttlSeconds,
            },
          });
        },
      },
    },
    {
      pattern: /^sys\/wrapping\/rewrap$/,
      unauthenticated: true,
      handlers: {
        update: async (req) => {
          const token = await wrappingTokenOf(req, true);
          const info = await rewrapResponse(database, unsealer, await unsealer.rowMac(), token);
          return { status: 200, body: { ...envelope(req.requestId, {}), wrap_info: info } };
        },
      },
    },
  ];
}
