// The vault api: every Vault path except the sys/ endpoints the unsealer owns. Scales to zero;
// it never sees the root key or a KEK, only the DEKs of the request at hand.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { AppEnv } from '#shared/http/app';
import { toVaultError, vaultShaped } from '#functions/vault/core/errors';
import { createSeqMemory } from '#functions/vault/core/integrity';
import { integrityFailureCounter } from '#functions/vault/core/integrity-metrics';
import { resolveInternalKey } from '#functions/vault/core/internal-auth';
import { createAclCache } from '#functions/vault/core/policy-store';
import { kubernetesRoutes } from './kubernetes-routes.js';
import { kvRoutes } from './kv-routes.js';
import { transitRoutes } from './transit-routes.js';
import { createPipeline } from './pipeline.js';
import { policyRoutes } from './policy-routes.js';
import { tokenRoutes } from './token-routes.js';
import { createUnsealerClient } from './unsealer-client.js';

/** The unsealer's Service in the reference namespace (`zenokube`), by its full DNS name. */
const IN_CLUSTER_UNSEALER_URL = 'http://vault-unsealer.zenokube.svc.cluster.local';

/** The platform's own answers (413, 404, the fixed 500) in Vault's shape too. */
export const renderError = vaultShaped;

export function createApp(ctx: FunctionContext): Hono<AppEnv> {
  const integrityFailures = integrityFailureCounter(ctx.metrics);
  const unsealer = createUnsealerClient({
    onIntegrityFailure: (table) => {
      ctx.log.error('vault row failed its integrity check', { table });
      integrityFailures(table);
    },
    // The generated manifests always set the Service's full DNS name; without it, in a cluster
    // (K_SERVICE set) the reference installation's name, on one machine the local runner.
    url: ctx.env.VAULT_UNSEALER_URL ?? (ctx.config.serviceName ? IN_CLUSTER_UNSEALER_URL : `http://127.0.0.1:${ctx.config.port}/_fn/vault-unsealer`),
    key: resolveInternalKey(ctx.env.VAULT_INTERNAL_KEY, !!ctx.config.serviceName),
  });
  const rowMac = (fresh?: boolean) => unsealer.rowMac(fresh);
  const acls = createAclCache(ctx.database.db, rowMac);
  // This process's memory of each secret path's highest seq: a path seen going back is a rollback.
  const kvIntegrity = { rowMac, seen: createSeqMemory() };
  const routes = [
    ...kvRoutes(ctx.database, unsealer, kvIntegrity),
    ...tokenRoutes(ctx.database, rowMac),
    ...policyRoutes(ctx.database, acls, rowMac),
    ...kubernetesRoutes(ctx.database, rowMac),
    ...transitRoutes(ctx.database, unsealer),
  ];
  const handle = createPipeline({ database: ctx.database, log: ctx.log, unsealer, routes, acls });
  const app = new Hono<AppEnv>();
  app.all('/vault/v1/*', (c) => {
    const remote = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    return handle(c.req.raw, c.get('requestId'), remote);
  });
  // Failures before the handler (the token lookup) keep Vault's shape too; unexpected ones go on
  // to the platform's fixed 500.
  app.onError((err) => {
    const known = toVaultError(err);
    if (!known) throw err;
    return known.getResponse();
  });
  return app;
}
