// Writes computed conditions back to the API server's status subresources, keeping other
// controllers' route parent entries and each condition's lastTransitionTime while it holds;
// nothing is written when nothing changed (our own writes come back as watch events).
// Every write is a merge patch carrying the resourceVersion it was computed from: if someone
// else changed the object in between, the API server answers 409 and the write is recomputed
// from a fresh read (their route parent entries kept), never merged blindly over theirs. A
// status computed for an older generation than the fresh object's is not written: the newer
// spec is on its way through the watch, and the sync that follows writes for it.
// @see https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.RouteParentStatus
import type { CompiledConfig } from '../engine/compile.js';
import type { Condition } from '../engine/conditions.js';
import type { BackendTLSPolicy, Gateway, GRPCRoute, HTTPRoute, TLSRoute } from '../engine/resources.js';
import { keyOf, nsOf } from '../engine/resources.js';
import type { KubeClient } from './kube-client.js';
import { isConflict, isNotFound } from './kube-client.js';
import { WATCHED, objectPath } from './watched.js';

type Timed = Condition & { lastTransitionTime: string };
interface Obj {
  metadata: { name?: string; namespace?: string; resourceVersion?: string; generation?: number; finalizers?: string[]; deletionTimestamp?: unknown };
  status?: unknown;
}

/** What one pass wrote: `conflicts` retried on a fresh read, `stale` left for the next sync. */
export interface WriteResult {
  writes: number;
  conflicts: number;
  stale: number;
}

/** Attempts per object before the sync fails and is requeued with backoff. */
const MAX_ATTEMPTS = 5;

class ConflictsExhausted extends Error {
  readonly code = 'conflicts_exhausted';
}

function timed(next: Condition[], prev: Timed[] | undefined, now: string): Timed[] {
  return next.map((c) => {
    const before = prev?.find((p) => p.type === c.type && p.status === c.status && p.reason === c.reason);
    return { ...c, lastTransitionTime: before?.lastTransitionTime ?? now };
  });
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const gatewayWatch = WATCHED.find((w) => w.kind === 'Gateway')!;
const routeWatch = WATCHED.find((w) => w.kind === 'HTTPRoute')!;
const grpcRouteWatch = WATCHED.find((w) => w.kind === 'GRPCRoute')!;
const tlsRouteWatch = WATCHED.find((w) => w.kind === 'TLSRoute')!;
const policyWatch = WATCHED.find((w) => w.kind === 'BackendTLSPolicy')!;
const classWatch = WATCHED.find((w) => w.kind === 'GatewayClass')!;

export interface Writer {
  client: KubeClient;
  /** Checked before every request: only the leader writes. */
  mayWrite(): boolean;
  result: WriteResult;
}

/**
 * Patches one object (`/status` when `status`): `build` computes the patch from the object as
 * read, or undefined when it holds already. On 409 the object is read again and rebuilt.
 * `generation`, when given, is the generation the patch was computed for.
 */
async function patchFresh<T extends Obj>(w: Writer, path: string, current: T, build: (obj: T) => Record<string, unknown> | undefined, opts: { status: boolean; generation?: number }): Promise<void> {
  let obj = current;
  for (let attempt = 1; ; attempt++) {
    if (opts.generation !== undefined && obj.metadata.generation !== undefined && obj.metadata.generation !== opts.generation) {
      w.result.stale++;
      return;
    }
    const patch = build(obj);
    if (!patch || !w.mayWrite()) return;
    const body = { ...patch, metadata: { ...((patch.metadata as object | undefined) ?? {}), resourceVersion: obj.metadata.resourceVersion } };
    try {
      await w.client.mergePatch(opts.status ? `${path}/status` : path, body);
      w.result.writes++;
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
      w.result.conflicts++;
      if (attempt >= MAX_ATTEMPTS) throw new ConflictsExhausted(`${path}: still conflicting after ${MAX_ATTEMPTS} attempts`);
    }
    try {
      obj = await w.client.get<T>(path);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

export async function writeStatus(w: Writer, config: CompiledConfig, gateways: Gateway[], routes: (HTTPRoute | GRPCRoute | TLSRoute)[], controllerName: string, now: string): Promise<void> {
  for (const gw of gateways) {
    const computed = config.status.gateways.get(keyOf(gw));
    if (!computed) continue;
    await patchFresh(
      w,
      objectPath(gatewayWatch, nsOf(gw), gw.metadata.name),
      gw as Gateway & Obj,
      (fresh) => {
        const prev = (fresh as { status?: { conditions?: Timed[]; listeners?: { name: string; conditions?: Timed[] }[]; addresses?: unknown } }).status;
        const next: Record<string, unknown> = {
          conditions: timed(computed.conditions, prev?.conditions, now),
          listeners: computed.listeners.map((l) => ({ ...l, conditions: timed(l.conditions, prev?.listeners?.find((p) => p.name === l.name)?.conditions, now) })),
        };
        if (computed.addresses) next.addresses = computed.addresses;
        if (same({ conditions: prev?.conditions, listeners: prev?.listeners, ...(computed.addresses ? { addresses: prev?.addresses } : {}) }, next)) return undefined;
        return { status: next };
      },
      { status: true, generation: gw.metadata.generation },
    );
  }
  for (const route of routes) {
    const [reports, watch] =
      route.kind === 'GRPCRoute' ? [config.status.grpcRoutes, grpcRouteWatch] : route.kind === 'TLSRoute' ? [config.status.tlsRoutes, tlsRouteWatch] : [config.status.routes, routeWatch];
    const ours = reports.get(keyOf(route))?.parents ?? [];
    await patchFresh(
      w,
      objectPath(watch, nsOf(route), route.metadata.name),
      route as (HTTPRoute | GRPCRoute | TLSRoute) & Obj,
      (fresh) => {
        const existing = (fresh as { status?: { parents?: { controllerName: string; parentRef: unknown; conditions: Timed[] }[] } }).status?.parents ?? [];
        const others = existing.filter((p) => p.controllerName !== controllerName);
        const mine = ours.map((p) => {
          const before = existing.find((e) => e.controllerName === controllerName && same(e.parentRef, p.parentRef));
          return { parentRef: p.parentRef, controllerName, conditions: timed(p.conditions, before?.conditions, now) };
        });
        const next = [...others, ...mine];
        return same(existing, next) ? undefined : { status: { parents: next } };
      },
      { status: true, generation: route.metadata.generation },
    );
  }
}

/** Marks our GatewayClasses Accepted. */
export async function acceptClasses(w: Writer, classes: Obj[], now: string): Promise<void> {
  for (const c of classes) {
    await patchFresh(
      w,
      objectPath(classWatch, undefined, c.metadata.name!),
      c,
      (fresh) => {
        const accepted = (fresh as { status?: { conditions?: { type: string; status: string; observedGeneration?: number }[] } }).status?.conditions?.find((x) => x.type === 'Accepted');
        if (accepted?.status === 'True' && accepted.observedGeneration === fresh.metadata.generation) return undefined;
        return { status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'handled by ZenoIngress', lastTransitionTime: now, observedGeneration: fresh.metadata.generation }] } };
      },
      { status: true, generation: c.metadata.generation },
    );
  }
}

/** Adds `finalizer` to live Gateways and removes it from deleting ones (their listeners are closed). */
export async function syncFinalizers(w: Writer, finalizer: string, live: Obj[], deleting: Obj[]): Promise<void> {
  const set = (g: Obj, want: boolean) =>
    patchFresh(
      w,
      objectPath(gatewayWatch, g.metadata.namespace ?? 'default', g.metadata.name!),
      g,
      (fresh) => {
        const finalizers = fresh.metadata.finalizers ?? [];
        if (finalizers.includes(finalizer) === want || (want && fresh.metadata.deletionTimestamp)) return undefined;
        return { metadata: { finalizers: want ? [...finalizers, finalizer] : finalizers.filter((f) => f !== finalizer) } };
      },
      { status: false },
    );
  for (const g of live) await set(g, true);
  for (const g of deleting) await set(g, false);
}

/**
 * Writes each BackendTLSPolicy's `status.ancestors` entries of this controller (one per Gateway its
 * Services are used through), keeping other controllers' entries.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1alpha2.PolicyAncestorStatus
 */
export async function writePolicyStatus(w: Writer, config: CompiledConfig, policies: BackendTLSPolicy[], controllerName: string, now: string): Promise<void> {
  for (const policy of policies) {
    const ours = config.status.backendTLSPolicies.get(keyOf(policy))?.ancestors ?? [];
    await patchFresh(
      w,
      objectPath(policyWatch, nsOf(policy), policy.metadata.name),
      policy as BackendTLSPolicy & Obj,
      (fresh) => {
        const existing = (fresh as { status?: { ancestors?: { controllerName: string; ancestorRef: unknown; conditions: Timed[] }[] } }).status?.ancestors ?? [];
        const others = existing.filter((a) => a.controllerName !== controllerName);
        const mine = ours.map((a) => {
          const before = existing.find((e) => e.controllerName === controllerName && same(e.ancestorRef, a.ancestorRef));
          return { ancestorRef: a.ancestorRef, controllerName, conditions: timed(a.conditions, before?.conditions, now) };
        });
        const next = [...others, ...mine];
        return same(existing, next) ? undefined : { status: { ancestors: next } };
      },
      { status: true, generation: policy.metadata.generation },
    );
  }
}
