// vault-remote-secret-sync: ZenoVault's RemoteSecret operator as a function. Knative's
// ApiServerSource posts the API events of RemoteSecrets and of the Secrets they wrote here
// (POST /), each a hint to sync that resource; a PingSource's tick syncs every one that is due.
import { existsSync, readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { AppError, badRequest } from '#shared/http/errors';
import { eventDataOf } from '#shared/events/event-data';
import type { FunctionContext } from '#shared/function/define';
import type { EventHandler } from '#shared/events/receive';
import { hintOf } from './hint.js';
import { createKubeApi } from './kube.js';
import { syncAll, syncOne, type SyncDeps } from './sync.js';
import { createVaultReader } from './vault-reader.js';

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The operator the declared variables describe. */
export function syncDepsFrom(env: Readonly<Record<string, string | undefined>>, log: SyncDeps['log']): SyncDeps {
  const caFile = env.VAULT_SYNC_KUBE_CA_FILE ?? `${SA}/ca.crt`;
  return {
    kube: createKubeApi({
      server: env.VAULT_SYNC_KUBE_API ?? 'https://kubernetes.default.svc',
      tokenFile: env.VAULT_SYNC_KUBE_TOKEN_FILE ?? `${SA}/token`,
      ...(existsSync(caFile) ? { ca: readFileSync(caFile, 'utf8') } : {}),
    }),
    vault: createVaultReader({
      address: env.VAULT_SYNC_VAULT_ADDR ?? 'http://vault-api.zenokube.svc.cluster.local/vault',
      jwtFile: env.VAULT_SYNC_VAULT_JWT_FILE ?? `${SA}/token`,
      authMount: env.VAULT_SYNC_VAULT_AUTH_MOUNT ?? 'kubernetes',
    }),
    log,
    now: () => new Date(),
  };
}

/** The HTTP edge for given dependencies (tests build them against their API server and vault). */
export function createSyncApp(d: SyncDeps): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const data = await eventDataOf(c.req.raw);
    const hint = hintOf(data);
    if (!hint) throw badRequest('invalid_event_data', 'The event names no Kubernetes object (kind, namespace and name).');
    if ('ignored' in hint) return c.json({ ignored: hint.ignored }, 202);
    const outcome = await syncOne(d, hint.namespace, hint.name, hint.cause);
    // The status says why; a 503 has the source deliver the event again with backoff.
    if (outcome.result === 'failed') throw new AppError(503, 'sync_failed', 'Service Unavailable', { detail: 'The sync failed; the RemoteSecret status says why. Deliver the event again later.' });
    return c.json(outcome);
  });
  return app;
}

export function createApp(ctx: FunctionContext) {
  return createSyncApp(syncDepsFrom(ctx.env, ctx.log));
}

export const events = (ctx: FunctionContext): Record<string, EventHandler> => {
  const d = syncDepsFrom(ctx.env, ctx.log);
  return {
    // Each resource reports its own failure in its status; the tick itself is not retried for them.
    'io.zenokube.vault.remote-secrets.scheduled': async () => {
      const outcomes = await syncAll(d);
      const failed = outcomes.filter((o) => o.outcome.result === 'failed').length;
      if (failed > 0) ctx.log.warn('remote secret resync: some resources failed', { failed, total: outcomes.length });
    },
  };
};
