// Configuration source (b): the Kubernetes API through client-node informers. Every change
// recompiles the whole set, swaps it into the running proxy, writes status conditions back,
// and keeps a finalizer on our Gateways so a deleted Gateway stops serving before it goes.
// @see https://gateway-api.sigs.k8s.io/api-types/gatewayclass/ (controllerName)
import { makeInformer } from '@kubernetes/client-node';
import type { Informer, KubeConfig, KubernetesListObject, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '#shared/log/index';
import type { CompiledConfig } from '../engine/compile.js';
import { compile } from '../engine/compile.js';
import { CONTROLLER_NAME } from '../engine/conditions.js';
import type { ResourceSet } from '../engine/resources.js';
import { emptyResourceSet, nsOf } from '../engine/resources.js';
import type { Ingress } from '../runtime.js';
import { createKubeClient } from './kube-client.js';
import type { Watched } from './watched.js';
import { WATCHED, objectPath } from './watched.js';
import { writeStatus } from './status-writer.js';

/** Keeps a Gateway until its listeners are closed. */
export const GATEWAY_FINALIZER = 'gateway.zenokube.io/ingress';

interface KubeControllerOptions {
  kc: KubeConfig;
  ingress: Ingress;
  log: Logger;
  controllerName?: string;
  debounceMs?: number;
}

export interface KubeController {
  current(): CompiledConfig | undefined;
  /** Resolves after the next full sync (compile, apply, status, finalizers). */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

type Cached = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

export async function startKubeController(opts: KubeControllerOptions): Promise<KubeController> {
  const controllerName = opts.controllerName ?? CONTROLLER_NAME;
  const client = createKubeClient(opts.kc);
  let config: CompiledConfig | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let waiters: (() => void)[] = [];
  let stopped = false;

  const informers: { w: Watched; inf: Cached }[] = WATCHED.map((w) => ({
    w,
    inf: makeInformer(opts.kc, w.path, () => client.get<KubernetesListObject<KubernetesObject>>(w.path)) as Cached,
  }));

  const sync = async () => {
    const set: ResourceSet = emptyResourceSet();
    const classes: KubernetesObject[] = [];
    for (const { w, inf } of informers) {
      for (const item of inf.list()) {
        const obj = { ...item, apiVersion: w.apiVersion, kind: w.kind };
        if (w.key === 'gatewayClasses') classes.push(obj);
        else (set[w.key] as unknown[]).push(obj);
      }
    }
    const ourClasses = new Set(classes.filter((c) => (c as { spec?: { controllerName?: string } }).spec?.controllerName === controllerName).map((c) => c.metadata!.name!));
    const ours = set.gateways.filter((g) => ourClasses.has(g.spec?.gatewayClassName ?? ''));
    const deleting = ours.filter((g) => (g.metadata as { deletionTimestamp?: string }).deletionTimestamp);
    const live = ours.filter((g) => !deleting.includes(g));
    set.gateways = live;
    const next = compile(set);
    await opts.ingress.apply(next);
    config = next;
    const now = new Date().toISOString();
    await writeStatus(client, next, live, set.routes, controllerName, now);
    const gw = WATCHED.find((w) => w.kind === 'Gateway')!;
    for (const g of live) {
      const finalizers = (g.metadata as { finalizers?: string[] }).finalizers ?? [];
      if (!finalizers.includes(GATEWAY_FINALIZER)) await client.mergePatch(objectPath(gw, nsOf(g), g.metadata.name), { metadata: { finalizers: [...finalizers, GATEWAY_FINALIZER] } });
    }
    // Listeners of deleted Gateways are closed by the apply above; now they may go.
    for (const g of deleting) {
      const finalizers = (g.metadata as { finalizers?: string[] }).finalizers ?? [];
      if (finalizers.includes(GATEWAY_FINALIZER)) await client.mergePatch(objectPath(gw, nsOf(g), g.metadata.name), { metadata: { finalizers: finalizers.filter((f) => f !== GATEWAY_FINALIZER) } });
    }
    const gc = WATCHED.find((w) => w.kind === 'GatewayClass')!;
    for (const c of classes.filter((x) => ourClasses.has(x.metadata!.name!))) {
      const accepted = (c as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions?.find((x) => x.type === 'Accepted');
      if (accepted?.status !== 'True') {
        await client.mergePatch(`${objectPath(gc, undefined, c.metadata!.name!)}/status`, {
          status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'handled by ZenoIngress', lastTransitionTime: now, observedGeneration: c.metadata!.generation }] },
        });
      }
    }
  };

  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running
        .then(sync)
        .catch((err: unknown) => opts.log.error('ingress sync failed; the previous configuration keeps serving', { err }))
        .then(() => {
          const w = waiters;
          waiters = [];
          for (const f of w) f();
        });
    }, opts.debounceMs ?? 50);
  };

  for (const { w, inf } of informers) {
    inf.on('add', schedule);
    inf.on('update', schedule);
    inf.on('delete', schedule);
    inf.on('error', (err: unknown) => {
      if (stopped) return;
      opts.log.warn('informer error; restarting', { resource: w.kind, err });
      setTimeout(() => void inf.start().catch(() => {}), 1_000).unref();
    });
  }
  await Promise.all(informers.map(({ inf }) => inf.start()));
  schedule();

  return {
    current: () => config,
    synced: () => new Promise<void>((r) => waiters.push(r)),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(informers.map(({ inf }) => inf.stop().catch(() => {})));
      await running;
    },
  };
}
