// The vault api: every Vault path except the sys/ endpoints the unsealer owns. Scales to zero;
// it never sees the root key or a KEK, only the DEKs of the request at hand.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { AppEnv } from '#shared/http/app';
import { createClientAddressOf } from '#shared/http/client-address';
import { gaugeOnScrape } from '#shared/metrics/scraped';
import { createAuditWriter, readSealEpoch } from '#functions/vault/core/audit';
import { toVaultError, VaultError, vaultShaped } from '#functions/vault/core/errors';
import { createSeqMemory } from '#functions/vault/core/integrity';
import { integrityFailureCounter } from '#functions/vault/core/integrity-metrics';
import { resolveInternalKey } from '#functions/vault/core/internal-auth';
import { createAclCache } from '#functions/vault/core/policy-store';
import { approleRoutes } from './approle-routes.js';
import { jwtRoutes } from './jwt-routes.js';
import { kubernetesRoutes } from './kubernetes-routes.js';
import { kvRoutes } from './kv-routes.js';
import { transitRoutes } from './transit-routes.js';
import { createPipeline } from './pipeline.js';
import { policyRoutes } from './policy-routes.js';
import { tokenRoleRoutes } from './token-role-routes.js';
import { createTokenCache } from './token-cache.js';
import { tokenRoutes } from './token-routes.js';
import { wrappingRoutes } from './wrapping-routes.js';
import { createUnsealerClient, type UnsealerClient } from './unsealer-client.js';
import { databaseRoutes } from './database-routes.js';
import { leaseRoutes } from './lease-routes.js';
import type { EventHandler } from '#shared/events/receive';
import { leasesScheduled } from '#eventing/catalog/vault';
import { DATABASE_MOUNT, dueStaticRoles, noteRotationFailure } from '#functions/vault/core/database';
import { databaseLeaseEngine, rotateStaticRole, type EngineDeps } from '#functions/vault/core/database-engine';
import { backoffSeconds, revokeExpired, type LeaseEngines } from '#functions/vault/core/leases';
import { sysAuthRoutes } from './sys-auth-routes.js';
import { userpassRoutes } from './userpass-routes.js';

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

interface Runtime {
  unsealer: UnsealerClient;
  engine: EngineDeps;
  engines: LeaseEngines;
  ensureDatabaseMount: () => Promise<void>;
}

/** One unsealer client and engine set per function instance, shared by its routes and its schedule. */
const runtimes = new WeakMap<FunctionContext, Runtime>();

function runtimeOf(ctx: FunctionContext): Runtime {
  const known = runtimes.get(ctx);
  if (known) return known;
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
    sealEpoch: () => readSealEpoch(ctx.database.db),
  });
  // The DEK cache, read at each scrape: hits against unwraps asked of the unsealer, and its size.
  gaugeOnScrape(
    ctx.metrics,
    { name: 'zeno_vault_dek_cache', help: 'The DEK cache of vault-api: hits and misses since start, DEKs and bytes kept now, DEKs evicted since start.', labelNames: ['stat'] },
    () => Object.entries(unsealer.dekCacheStats()).map(([stat, value]) => ({ labels: { stat }, value })),
  );
  const engine: EngineDeps = { database: ctx.database, mac: () => unsealer.rowMac(), keys: unsealer };
  let mounted: Promise<void> | undefined;
  const runtime: Runtime = {
    unsealer,
    engine,
    engines: { database: databaseLeaseEngine(engine) },
    // Once per process; a failure (sealed, unreachable) is asked again next time.
    ensureDatabaseMount: () =>
      (mounted ??= unsealer.ensureMount(DATABASE_MOUNT).catch((err: unknown) => {
        mounted = undefined;
        throw err;
      })),
  };
  runtimes.set(ctx, runtime);
  return runtime;
}

/**
 * The schedule's tick: revoke expired leases, rotate due static roles. Each lease and role is its own
 * transaction (revocation is idempotent), so the tick's inbox transaction only records the tick.
 */
export function events(ctx: FunctionContext): Record<string, EventHandler> {
  let counted: ((outcome: 'revoked' | 'failed', n: number) => void) | undefined;
  ctx.metrics.whenLoaded((prom, registry) => {
    const counter = new prom.Counter({
      name: 'zeno_vault_lease_revocations_total',
      help: 'Expired leases revoked by the schedule, and revocations that failed (retried with backoff), by outcome.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    counted = (outcome, n) => counter.inc({ outcome }, n);
  });
  return {
    [leasesScheduled.type]: async () => {
      const { engine, engines } = runtimeOf(ctx);
      const mac = await engine.mac();
      const swept = { revoked: 0, failed: 0 };
      // Batches until none is left due (a failed lease waits for its retry time, so this ends).
      for (let round = 0; round < 50; round++) {
        const batch = await revokeExpired(ctx.database, mac, engines, (leaseId, err) => {
          ctx.log.warn('lease revocation failed; it will be retried', { lease_id: leaseId, err: err instanceof Error ? err.message : String(err) });
        });
        swept.revoked += batch.revoked;
        swept.failed += batch.failed;
        if (batch.revoked + batch.failed === 0) break;
      }
      counted?.('revoked', swept.revoked);
      counted?.('failed', swept.failed);
      let rotated = 0;
      let rotationFailures = 0;
      for (const name of await dueStaticRoles(ctx.database.db)) {
        try {
          await rotateStaticRole(engine, name);
          rotated++;
        } catch (err) {
          // Sealed or unavailable: the tick fails and is delivered again; no role is marked.
          if (err instanceof VaultError && err.status >= 500) throw err;
          rotationFailures++;
          const message = err instanceof Error ? err.message : String(err);
          await noteRotationFailure(ctx.database.db, name, message, backoffSeconds(1));
          ctx.log.warn('static role rotation failed; it will be retried', { role: name, err: message });
        }
      }
      ctx.log.info('leases swept', { revoked: swept.revoked, failed: swept.failed, rotated, rotation_failures: rotationFailures });
    },
  };
}

export function createApp(ctx: FunctionContext): Hono<AppEnv> {
  const { unsealer, engine, engines, ensureDatabaseMount } = runtimeOf(ctx);
  const rowMac = (fresh?: boolean) => unsealer.rowMac(fresh);
  const acls = createAclCache(ctx.database.db, rowMac);
  // This process's memory of each secret path's highest seq: a path seen going back is a rollback.
  const kvIntegrity = { rowMac, seen: createSeqMemory() };
  const tokens = createTokenCache({ ttlMs: tokenCacheMs(ctx.env.VAULT_TOKEN_CACHE_MS) });
  unsealer.onFlush(() => {
    tokens.clear();
    acls.invalidate();
  });
  const routes = [
    ...kvRoutes(ctx.database, unsealer, kvIntegrity),
    ...tokenRoutes(ctx.database, unsealer),
    ...tokenRoleRoutes(ctx.database, unsealer),
    ...wrappingRoutes(ctx.database, unsealer, acls),
    ...policyRoutes(ctx.database, acls, rowMac),
    ...kubernetesRoutes(ctx.database, unsealer),
    ...transitRoutes(ctx.database, unsealer),
    ...leaseRoutes(ctx.database, () => unsealer.rowMac(), engines),
    ...databaseRoutes(ctx.database, engine, ensureDatabaseMount),
    ...approleRoutes(ctx.database, unsealer),
    ...userpassRoutes(ctx.database, unsealer),
    ...jwtRoutes(ctx.database, unsealer),
    ...sysAuthRoutes(),
  ];
  const handle = createPipeline({ database: ctx.database, log: ctx.log, unsealer, routes, acls, tokens, audits: createAuditWriter(ctx.database.db) });
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
