// Configuration source (b): the Kubernetes API through client-node informers. Every change
// recompiles the whole set, swaps it into the running proxy, writes status conditions back,
// and keeps a finalizer on our Gateways so a deleted Gateway stops serving before it goes.
//
// In a cluster several replicas run this: every replica watches and routes; only the one that
// holds the Lease (leader.ts) writes (status, finalizers). Secrets are not listed cluster-wide:
// one watch per Secret a Gateway listener (or an ExtAuthFilter) names, by field selector.
// A failed sync is retried with exponential backoff; every `resyncMs` each watch is replaced by
// a fresh list + watch, which heals an event the watch never delivered, and the sync re-runs.
// @see https://gateway-api.sigs.k8s.io/api-types/gatewayclass/ (controllerName)
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '#shared/log/index';
import type { CompiledConfig } from '../engine/compile.js';
import { compile } from '../engine/compile.js';
import { CONTROLLER_NAME } from '../engine/conditions.js';
import type { ResourceSet } from '../engine/resources.js';
import { emptyResourceSet } from '../engine/resources.js';
import type { Ingress } from '../runtime.js';
import { createKubeClient, isNotFound } from './kube-client.js';
import type { LeaderElectionConfig } from './leader.js';
import { startLeaderElection } from './leader.js';
import type { Watched } from './watched.js';
import { WATCHED, namespacedPath, referencedConfigMaps, referencedSecrets } from './watched.js';
import type { Writer } from './status-writer.js';
import { acceptClasses, syncFinalizers, writePolicyStatus, writeStatus } from './status-writer.js';

/** Keeps a Gateway until its listeners are closed. */
export const GATEWAY_FINALIZER = 'gateway.zenokube.io/ingress';

interface KubeControllerOptions {
  kc: KubeConfig;
  ingress: Ingress;
  log: Logger;
  controllerName?: string;
  debounceMs?: number;
  /** Relist everything and re-run the sync this often; default 5 minutes, 0 = never. */
  resyncMs?: number;
  /** Retry delay after a failed sync: base × 2^(failures − 1), capped; defaults 500 ms and 60 s. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Elect the status writer on a Lease; without it this process is the only writer. */
  leaderElection?: LeaderElectionConfig;
}

export interface KubeController {
  current(): CompiledConfig | undefined;
  /** Resolves after the next sync attempt (compile, apply, and when leading status and finalizers). */
  synced(): Promise<void>;
  /** Whether this replica writes status now. */
  isLeader(): boolean;
  stop(): Promise<void>;
}

interface Watching {
  w: Watched;
  path: string;
  fieldSelector?: string;
  inf: ListWatch<KubernetesObject>;
}

export async function startKubeController(opts: KubeControllerOptions): Promise<KubeController> {
  const controllerName = opts.controllerName ?? CONTROLLER_NAME;
  const client = createKubeClient(opts.kc);
  const debounceMs = opts.debounceMs ?? 50;
  const resyncMs = opts.resyncMs ?? 300_000;
  const baseMs = opts.backoff?.baseMs ?? 500;
  const maxMs = opts.backoff?.maxMs ?? 60_000;
  const secretWatch = WATCHED.find((w) => w.kind === 'Secret')!;
  const configMapWatch = WATCHED.find((w) => w.kind === 'ConfigMap')!;
  let config: CompiledConfig | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let waiters: (() => void)[] = [];
  let stopped = false;
  let failures = 0;
  let notBefore = 0;
  /** Cluster-wide watches by kind; referenced objects as `<Kind>:namespace/name` (`Secret:web/tls`). */
  const watches = new Map<string, Watching>();

  const schedule = (delay = debounceMs) => {
    if (stopped) return;
    clearTimeout(timer);
    // While backing off, watch events do not cut the wait short.
    timer = setTimeout(run, Math.max(delay, notBefore - Date.now()));
  };

  const open = async (key: string, w: Watched, path: string, fieldSelector?: string): Promise<Watching> => {
    const list = () => client.get<KubernetesListObject<KubernetesObject>>(path, fieldSelector ? { fieldSelector } : undefined);
    const inf = new ListWatch<KubernetesObject>(path, new Watch(opts.kc), list, false, undefined, fieldSelector);
    const changed = () => schedule();
    inf.on('add', changed);
    inf.on('update', changed);
    inf.on('delete', changed);
    inf.on('error', (err: unknown) => {
      if (stopped || watches.get(key)?.inf !== inf) return;
      opts.log.warn('informer error; restarting', { resource: w.kind, path, err });
      setTimeout(() => {
        if (!stopped && watches.get(key)?.inf === inf) void inf.start().catch(() => {});
      }, 1_000).unref();
    });
    await inf.start();
    return { w, path, fieldSelector, inf };
  };

  const served = async (w: Watched): Promise<boolean> => {
    try {
      await client.get(w.path, { limit: '1' });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };

  /** Watches exactly the referenced objects of `w`'s kind: starts the new ones (listed before compiling), stops the rest. */
  const watchReferenced = async (w: Watched, wanted: Set<string>) => {
    const prefix = `${w.kind}:`;
    for (const ref of wanted) {
      const key = prefix + ref;
      if (watches.has(key)) continue;
      const slash = ref.indexOf('/');
      watches.set(key, await open(key, w, namespacedPath(w, ref.slice(0, slash)), `metadata.name=${ref.slice(slash + 1)}`));
    }
    for (const [key, e] of watches) {
      if (e.w !== w || wanted.has(key.slice(prefix.length))) continue;
      watches.delete(key);
      await e.inf.stop();
    }
  };

  const elector = opts.leaderElection
    ? startLeaderElection({ kc: opts.kc, log: opts.log, ...opts.leaderElection, onStartedLeading: () => schedule(0), onStoppedLeading: () => {} })
    : undefined;
  const mayWrite = () => !stopped && (elector ? elector.isLeader() : true);

  /** Compiles and applies; returns true when a status write must be retried later. */
  const sync = async (): Promise<boolean> => {
    const set: ResourceSet = emptyResourceSet();
    const classes: KubernetesObject[] = [];
    for (const { w, inf } of watches.values()) {
      if (w.scope === 'referenced') continue;
      for (const item of inf.list()) {
        const obj = { ...item, apiVersion: w.apiVersion, kind: w.kind };
        if (w.key === 'gatewayClasses') classes.push(obj);
        else (set[w.key] as unknown[]).push(obj);
      }
    }
    const ourClasses = classes.filter((c) => (c as { spec?: { controllerName?: string } }).spec?.controllerName === controllerName);
    const ourClassNames = new Set(ourClasses.map((c) => c.metadata!.name!));
    const ours = set.gateways.filter((g) => ourClassNames.has(g.spec?.gatewayClassName ?? ''));
    const deleting = ours.filter((g) => (g.metadata as { deletionTimestamp?: string }).deletionTimestamp);
    const live = ours.filter((g) => !deleting.includes(g));
    set.gateways = live;
    await watchReferenced(secretWatch, referencedSecrets(set));
    await watchReferenced(configMapWatch, referencedConfigMaps(set));
    for (const { w, inf } of watches.values()) {
      if (w.scope === 'referenced' && w.key !== 'gatewayClasses') for (const item of inf.list()) (set[w.key] as unknown[]).push({ ...item, apiVersion: w.apiVersion, kind: w.kind });
    }
    const next = compile(set);
    await opts.ingress.apply(next);
    config = next;
    if (!mayWrite()) return false;
    const writer: Writer = { client, mayWrite, result: { writes: 0, conflicts: 0, stale: 0 } };
    const now = new Date().toISOString();
    await writeStatus(writer, next, live, [...set.routes, ...set.grpcRoutes, ...set.tlsRoutes], controllerName, now);
    await writePolicyStatus(writer, next, set.backendTLSPolicies, controllerName, now);
    // Listeners of deleted Gateways are closed by the apply above; now they may go.
    await syncFinalizers(writer, GATEWAY_FINALIZER, live, deleting);
    await acceptClasses(writer, ourClasses.map((c) => ({ ...c, metadata: c.metadata ?? {} })), now);
    if (writer.result.conflicts > 0 || writer.result.stale > 0) opts.log.info('status writes raced other writers', { ...writer.result });
    return writer.result.stale > 0;
  };

  function run() {
    running = running
      .then(sync)
      .then(
        (again) => {
          failures = 0;
          notBefore = 0;
          if (again) schedule(baseMs);
        },
        (err: unknown) => {
          failures++;
          const delay = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
          notBefore = Date.now() + delay;
          opts.log.error('ingress sync failed; the previous configuration keeps serving', { err, failures, retryInMs: delay });
          schedule(delay);
        },
      )
      .then(() => {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      });
  }

  /** Replaces every watch with a fresh list + watch: whatever a watch missed is in the new list. */
  const resync = async () => {
    for (const [key, e] of [...watches]) {
      if (stopped) return;
      const fresh = await open(key, e.w, e.path, e.fieldSelector);
      if (stopped || watches.get(key) !== e) {
        await fresh.inf.stop();
        continue;
      }
      watches.set(key, fresh);
      await e.inf.stop();
    }
  };

  for (const w of WATCHED) {
    if (w.scope === 'referenced') continue;
    // An experimental kind whose CRD the cluster lacks is left unwatched (a restart picks it up).
    if (w.optional && !(await served(w))) {
      opts.log.info('resource not served by the API server; not watched', { resource: w.kind, path: w.path });
      continue;
    }
    watches.set(w.kind, await open(w.kind, w, w.path));
  }
  schedule();
  const resyncTimer =
    resyncMs > 0
      ? setInterval(() => {
          running = running.then(resync).catch((err: unknown) => opts.log.warn('ingress resync failed; the next one retries', { err }));
          schedule(0);
        }, resyncMs)
      : undefined;
  resyncTimer?.unref();

  return {
    current: () => config,
    synced: () => new Promise<void>((r) => waiters.push(r)),
    isLeader: mayWrite,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(resyncTimer);
      await running;
      // No write is in flight any more: release the Lease so another replica takes over at once.
      await elector?.stop();
      await Promise.all([...watches.values()].map(({ inf }) => inf.stop().catch(() => {})));
    },
  };
}
