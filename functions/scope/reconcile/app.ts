// scope-reconcile: Knative's ApiServerSource posts the API events of ZenoScopes, ZenoApps and the
// objects made for them here (POST /), each a hint to reconcile that resource; the resync schedule
// (a PingSource) reconciles every one of them.
import { readFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { AppError, badRequest } from '#shared/http/errors';
import { eventDataOf } from '#shared/events/event-data';
import type { FunctionContext } from '#shared/function/define';
import type { Logger } from '#shared/log/index';
import { createAuthApi } from './auth-api.js';
import { hintOf } from './hint.js';
import { createKubeApi } from './kube.js';
import { listTargets, reconcileTarget, type Outcome, type Target } from './reconciler.js';
import type { Reconciler } from './deps.js';
import { createVaultApi } from './vault-api.js';

/** The reconciler the declared variables describe. */
export function reconcilerFrom(env: Readonly<Record<string, string | undefined>>, log: Logger): Reconciler {
  const caFile = env.ZENO_SCOPE_KUBE_CA_FILE;
  const vaultToken = env.ZENO_SCOPE_VAULT_TOKEN;
  const server = env.ZENO_SCOPE_KUBE_API ?? 'https://kubernetes.default.svc';
  const ca = caFile && existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined;
  return {
    kube: createKubeApi({ server, ...(env.ZENO_SCOPE_KUBE_TOKEN_FILE ? { tokenFile: env.ZENO_SCOPE_KUBE_TOKEN_FILE } : {}), ...(ca ? { ca } : {}) }),
    // The scoped kubeconfigs name the API server and CA the reconciler itself uses.
    cluster: { server, ...(ca ? { ca } : {}) },
    ...(env.ZENO_SCOPE_VAULT_ADDR && vaultToken ? { vault: createVaultApi(env.ZENO_SCOPE_VAULT_ADDR, async () => vaultToken) } : {}),
    ...(env.ZENO_SCOPE_AUTH_URL && env.ZENO_SCOPE_AUTH_ADMIN_SECRET ? { auth: createAuthApi(env.ZENO_SCOPE_AUTH_URL, 'zeno-admin', env.ZENO_SCOPE_AUTH_ADMIN_SECRET) } : {}),
    log,
    leaseNamespace: env.ZENO_SCOPE_LEASE_NAMESPACE ?? 'zenokube',
    holder: `${hostname()}-${randomUUID().slice(0, 8)}`,
    now: () => new Date(),
  };
}

/** Reconciles every resource (the resync); returns the outcomes, failures included. */
export async function resync(r: Reconciler): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const t of await listTargets(r)) outcomes.push(await reconcileTarget(r, t));
  return outcomes;
}

async function targetsOf(r: Reconciler, uids: string[]): Promise<Target[]> {
  const all = await listTargets(r);
  const found: Target[] = [];
  for (const t of all) {
    const o = await r.kube.get({ apiVersion: 'scope.zenokube.io/v1alpha1', kind: t.kind, ...(t.namespace ? { namespace: t.namespace } : {}), name: t.name });
    if (o?.metadata.uid && uids.includes(o.metadata.uid)) found.push(t);
  }
  return found;
}

/** The HTTP edge alone, for a given reconciler (tests build one against their API server). */
export function createReconcileApp(r: Reconciler): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const data = await eventDataOf(c.req.raw);
    const hint = hintOf(data);
    if (!hint) throw badRequest('invalid_event_data', 'The event names no Kubernetes object (kind, name and, for a ZenoApp, namespace).');
    if ('ignored' in hint) return c.json({ ignored: hint.ignored }, 202);
    const targets = 'target' in hint ? [hint.target] : await targetsOf(r, hint.ownerUids);
    const outcomes = [];
    for (const t of targets) outcomes.push({ target: t, ...(await reconcileTarget(r, t)) });
    const failed = outcomes.find((o) => o.result === 'failed');
    if (failed && failed.result === 'failed') {
      throw new AppError(503, 'reconcile_failed', 'Service Unavailable', { detail: `The ${failed.step} step failed; the status of the resource says why. Deliver the event again later.` });
    }
    if (outcomes.some((o) => o.result === 'busy')) {
      throw new AppError(503, 'reconcile_busy', 'Service Unavailable', { detail: 'Another reconcile of this resource is running; deliver the event again later.' });
    }
    return c.json({ outcomes });
  });
  return app;
}

export function createApp(ctx: FunctionContext) {
  return createReconcileApp(reconcilerFrom(ctx.env, ctx.log));
}

export const events = (ctx: FunctionContext) => {
  const r = reconcilerFrom(ctx.env, ctx.log);
  return {
    // The resync: one failing resource does not stop the others; each reports in its own status.
    'io.zenokube.scope.resync.requested': async () => {
      const outcomes = await resync(r);
      const failed = outcomes.filter((o) => o.result === 'failed').length;
      if (failed > 0) ctx.log.warn('scope resync: some resources failed', { failed, total: outcomes.length });
    },
  };
};
