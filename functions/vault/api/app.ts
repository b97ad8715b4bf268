// The vault api: every Vault path except the sys/ endpoints the unsealer owns. Scales to zero;
// it never sees the root key or a KEK, only the DEKs of the request at hand.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { AppEnv } from '#shared/http/app';
import { createClientAddressOf } from '#shared/http/client-address';
import { toVaultError, vaultShaped } from '#functions/vault/core/errors';
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
  let integrityFailures: ((table: string) => void) | undefined;
  ctx.metrics.whenLoaded((prom, registry) => {
    const counter = new prom.Counter({
      name: 'zeno_vault_integrity_failures_total',
      help: 'Rows refused because their integrity MAC did not verify (forged, altered, rolled back or moved), by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    });
    integrityFailures = (table) => counter.inc({ table });
  });
  const unsealer = createUnsealerClient({
    onIntegrityFailure: (table) => {
      ctx.log.error('vault row failed its integrity check', { table });
      integrityFailures?.(table);
    },
    // The generated manifests always set the Service's full DNS name; without it, in a cluster
    // (K_SERVICE set) the reference installation's name, on one machine the local runner.
    url: ctx.env.VAULT_UNSEALER_URL ?? (ctx.config.serviceName ? IN_CLUSTER_UNSEALER_URL : `http://127.0.0.1:${ctx.config.port}/_fn/vault-unsealer`),
    key: resolveInternalKey(ctx.env.VAULT_INTERNAL_KEY, !!ctx.config.serviceName),
  });
  const acls = createAclCache(ctx.database.db);
  const routes = [...kvRoutes(ctx.database, unsealer), ...tokenRoutes(ctx.database), ...policyRoutes(ctx.database, acls), ...kubernetesRoutes(ctx.database), ...transitRoutes(ctx.database, unsealer)];
  const handle = createPipeline({ database: ctx.database, log: ctx.log, unsealer, routes, acls });
  // The audited remote_address: the client as the trusted proxies forwarded it, else the peer.
  const clientAddressOf = createClientAddressOf(ctx.config.trustedProxies);
  const app = new Hono<AppEnv>();
  app.all('/vault/v1/*', (c) => {
    const peer = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    return handle(c.req.raw, c.get('requestId'), clientAddressOf(peer, c.req.header('x-forwarded-for')));
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
