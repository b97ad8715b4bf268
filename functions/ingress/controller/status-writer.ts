// Writes computed conditions back to the API server's status subresources, keeping other
// controllers' route parent entries and each condition's lastTransitionTime while it holds;
// nothing is written when nothing changed (our own writes come back as watch events).
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.RouteParentStatus
import type { CompiledConfig } from '../engine/compile.js';
import type { Condition } from '../engine/conditions.js';
import type { Gateway, HTTPRoute } from '../engine/resources.js';
import { keyOf, nsOf } from '../engine/resources.js';
import type { KubeClient } from './kube-client.js';
import { WATCHED, objectPath } from './watched.js';

type Timed = Condition & { lastTransitionTime: string };

function timed(next: Condition[], prev: Timed[] | undefined, now: string): Timed[] {
  return next.map((c) => {
    const before = prev?.find((p) => p.type === c.type && p.status === c.status && p.reason === c.reason);
    return { ...c, lastTransitionTime: before?.lastTransitionTime ?? now };
  });
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const gatewayWatch = WATCHED.find((w) => w.kind === 'Gateway')!;
const routeWatch = WATCHED.find((w) => w.kind === 'HTTPRoute')!;

export async function writeStatus(
  client: KubeClient,
  config: CompiledConfig,
  gateways: Gateway[],
  routes: HTTPRoute[],
  controllerName: string,
  now: string,
): Promise<number> {
  let writes = 0;
  for (const gw of gateways) {
    const computed = config.status.gateways.get(keyOf(gw));
    if (!computed) continue;
    const prev = (gw as { status?: { conditions?: Timed[]; listeners?: { name: string; conditions?: Timed[] }[] } }).status;
    const next: Record<string, unknown> = {
      conditions: timed(computed.conditions, prev?.conditions, now),
      listeners: computed.listeners.map((l) => ({ ...l, conditions: timed(l.conditions, prev?.listeners?.find((p) => p.name === l.name)?.conditions, now) })),
    };
    if (computed.addresses) next.addresses = computed.addresses;
    if (same({ conditions: prev?.conditions, listeners: prev?.listeners, ...(computed.addresses ? { addresses: (prev as { addresses?: unknown })?.addresses } : {}) }, next)) continue;
    await client.mergePatch(`${objectPath(gatewayWatch, nsOf(gw), gw.metadata.name)}/status`, { status: next });
    writes++;
  }
  for (const route of routes) {
    const ours = config.status.routes.get(keyOf(route))?.parents ?? [];
    const existing = ((route as { status?: { parents?: { controllerName: string; parentRef: unknown; conditions: Timed[] }[] } }).status?.parents ?? []);
    const others = existing.filter((p) => p.controllerName !== controllerName);
    const mine = ours.map((p) => {
      const before = existing.find((e) => e.controllerName === controllerName && same(e.parentRef, p.parentRef));
      return { parentRef: p.parentRef, controllerName, conditions: timed(p.conditions, before?.conditions, now) };
    });
    const next = [...others, ...mine];
    if (same(existing, next)) continue;
    await client.mergePatch(`${objectPath(routeWatch, nsOf(route), route.metadata.name)}/status`, { status: { parents: next } });
    writes++;
  }
  return writes;
}
