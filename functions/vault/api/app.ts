// The vault api: every Vault path except the sys/ endpoints the unsealer owns. Scales to zero;
// it never sees the root key or a KEK, only the DEKs of the request at hand.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { AppEnv } from '#shared/http/app';
import { gaugeOnScrape } from '#shared/metrics/scraped';
import { createAuditWriter, readSealEpoch } from '#functions/vault/core/audit';
import { toVaultError, vaultShaped } from '#functions/vault/core/errors';
import { resolveInternalKey } from '#functions/vault/core/internal-auth';
import { createAclCache } from '#functions/vault/core/policy-store';
import { kubernetesRoutes } from './kubernetes-routes.js';
import { kvRoutes } from './kv-routes.js';
import { transitRoutes } from './transit-routes.js';
import { createPipeline } from './pipeline.js';
import { policyRoutes } from './policy-routes.js';
import { createTokenCache } from './token-cache.js';
import { tokenRoutes } from './token-routes.js';
import { createUnsealerClient } from './unsealer-client.js';

/** The unsealer's Service in the reference namespace (`zenokube`), by its full DNS name. */
const IN_CLUSTER_UNSEALER_URL = 'http://vault-unsealer.zenokube.svc.cluster.local';

/** VAULT_TOKEN_CACHE_MS: a non-negative integer, at most a minute (default 1 s). */
function tokenCacheMs(v: string | undefined): number {
  if (v === undefined) return 1000;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 60_000) throw new Error('VAULT_TOKEN_CACHE_MS must be an integer from 0 to 60000');
  return n;
}

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
    sealEpoch: () => readSealEpoch(ctx.database.db),
  });
  // The DEK cache, read at each scrape: hits against unwraps asked of the unsealer, and its size.
  gaugeOnScrape(
    ctx.metrics,
    { name: 'zeno_vault_dek_cache', help: 'The DEK cache of vault-api: hits and misses since start, DEKs and bytes kept now, DEKs evicted since start.', labelNames: ['stat'] },
    () => Object.entries(unsealer.dekCacheStats()).map(([stat, value]) => ({ labels: { stat }, value })),
  );
  const acls = createAclCache(ctx.database.db);
  const tokens = createTokenCache({ ttlMs: tokenCacheMs(ctx.env.VAULT_TOKEN_CACHE_MS) });
  unsealer.onFlush(() => {
    tokens.clear();
    acls.invalidate();
  });
  const routes = [...kvRoutes(ctx.database, unsealer), ...tokenRoutes(ctx.database), ...policyRoutes(ctx.database, acls), ...kubernetesRoutes(ctx.database), ...transitRoutes(ctx.database, unsealer)];
  const handle = createPipeline({ database: ctx.database, log: ctx.log, unsealer, routes, acls, tokens, audits: createAuditWriter(ctx.database.db) });
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
