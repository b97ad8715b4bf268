// The vault unsealer: the one long-running vault function, holding the root key in RAM.
// Public: sys/init, sys/unseal, sys/seal, sys/seal-status, sys/health. Internal: the key service.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { integrityFailureCounter } from '#functions/vault/core/integrity-metrics';
import { resolveInternalKey } from '#functions/vault/core/internal-auth';
import { toVaultError, vaultShaped } from '#functions/vault/core/errors';
import { sealSettingsFrom, sealWrapperFor } from '#functions/vault/core/seal';
import { startAutoUnseal } from './auto-unseal.js';
import { createCeremonies } from './ceremony.js';
import { internalRoutes } from './internal-routes.js';
import { createKeyring, type Keyring } from './keyring.js';
import { sealGauge } from './seal-metrics.js';
import { sysRoutes } from './sys-routes.js';

/** Every keyring alive in this process, so that signals and fatal errors can zero them all. */
const live = new Map<FunctionContext, { keyring: Keyring; stop: () => void }>();
let hooked = false;

function wipeAll(): void {
  for (const { keyring, stop } of live.values()) {
    stop();
    keyring.wipe();
  }
}

/**
 * Zeroes keys on SIGTERM/SIGINT, on a fatal error and at exit. A signal listener is removed
 * once it fires; when no other listener remains the signal is raised again so the default
 * action (terminate) still happens.
 */
function installWipeHooks(): void {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      wipeAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
  process.on('uncaughtExceptionMonitor', wipeAll);
  process.on('exit', wipeAll);
}

/** The platform's own answers (413, 404, the fixed 500) in Vault's shape too. */
export const renderError = vaultShaped;

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  // A replica starts sealed: the api replicas drop the keys they hold (a restarted unsealer is a
  // sealed vault until it is unsealed again; other unsealed replicas are asked afresh).
  await bumpSealEpoch(ctx);
  const integrityFailures = integrityFailureCounter(ctx.metrics);
  installWipeHooks();
  const internalKey = resolveInternalKey(ctx.env.VAULT_INTERNAL_KEY, !!ctx.config.serviceName);
  const seal = sealWrapperFor(sealSettingsFrom(ctx.env));
  const keyring = createKeyring(ctx.database, {
    checkMs: Number(ctx.env.VAULT_ROOT_CHECK_MS ?? 1000),
    seal,
    log: ctx.log,
    onIntegrityFailure: (table) => {
      ctx.log.error('vault row failed its integrity check', { table });
      integrityFailures(table);
    },
  });
  sealGauge(ctx.metrics, keyring);
  const auto = seal ? startAutoUnseal(keyring, seal, ctx.log, Number(ctx.env.VAULT_SEAL_RETRY_MS ?? 2000)) : undefined;
  // A replica that finds the root key rekeyed by another seals itself; under auto-unseal it
  // unwraps the new root key from the seal at once.
  if (auto) keyring.setOnStale(() => auto.again());
  const renewal = seal?.keepAlive?.(ctx.log);
  live.set(ctx, {
    keyring,
    stop: () => {
      auto?.stop();
      renewal?.stop();
    },
  });
  const app = new Hono();
  const ceremonies = createCeremonies(ctx.database, keyring, seal, ctx.log);
  app.route('/vault/v1', sysRoutes(ctx.database, keyring, randomUUID(), seal, () => auto?.stop(), ceremonies));
  app.route('/internal/v1', internalRoutes(keyring, internalKey, ctx.database));
  app.onError((err) => {
    const known = toVaultError(err);
    if (!known) throw err;
    return known.getResponse();
  });
  return app;
}

/** Moves the seal epoch (core/audit.ts readSealEpoch); best effort: without storage nothing is served anyway. */
async function bumpSealEpoch(ctx: FunctionContext): Promise<void> {
  try {
    await ctx.database.db.execute(sql`update vault.seal_config set seal_epoch = seal_epoch + 1 where id = 1`);
  } catch (err) {
    ctx.log.warn('could not move the seal epoch at start', { err });
  }
}

/** Wipes one instance's keys (a pod's worth), leaving other instances in this process alone. */
export function wipeInstance(ctx: FunctionContext): void {
  const entry = live.get(ctx);
  if (!entry) return;
  entry.stop();
  entry.keyring.wipe();
  live.delete(ctx);
}

/**
 * Ready only while unsealed: a sealed replica (a new pod waiting for auto-unseal or key shares, or
 * one sealed by an operator) leaves the Service's endpoints, so the api and the rollout wait for
 * an unsealed one; liveness (/healthz) stays database-only, so a sealed replica is never restarted.
 */
export async function readiness(ctx: FunctionContext): Promise<{ name: string; ok: boolean; detail?: string }[]> {
  const entry = live.get(ctx);
  // The probe is also a use: a replica whose root key was rekeyed elsewhere notices it here.
  await entry?.keyring.checkCurrent();
  const sealed = !entry || entry.keyring.isSealed();
  return [{ name: 'unsealed', ok: !sealed, ...(sealed ? { detail: 'sealed' } : {}) }];
}

/** Called on SIGTERM after draining: the root key leaves memory before the process does. */
export async function shutdown(): Promise<void> {
  wipeAll();
  live.clear();
}
