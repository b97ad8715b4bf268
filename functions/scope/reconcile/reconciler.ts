// One reconcile of one ZenoScope or ZenoApp, as a CloudEvent hint or the resync asks: under the
// object's lease, read it again (the event is only a hint), observe, run the pure reconcile,
// execute its actions, write the status; repeat while a pass made progress, so one hint carries the
// resource as far as the world lets it. A failed action stops the pass, is written into the step's
// condition and makes the call fail, so the sender retries with backoff: never skipped.
import { CONDITION_OF, type Action } from '#functions/scope/core/actions';
import { stampConditions, type Condition, type TimedCondition } from '#functions/scope/core/conditions';
import { reconcile } from '#functions/scope/core/reconcile';
import type { ScopeStatus } from '#functions/scope/core/status';
import type { ScopeResource } from '#functions/scope/core/spec';
import { describeAction, execute } from './execute.js';
import { isConflict } from '#shared/kube/rest';
import type { KubeApi } from './kube.js';
import { takeLease } from './lease.js';
import { observe } from './observe.js';
import type { Reconciler } from './deps.js';

export interface Target {
  kind: 'ZenoScope' | 'ZenoApp';
  namespace?: string;
  name: string;
}

export type Outcome =
  | { result: 'gone' }
  | { result: 'busy' }
  | { result: 'reconciled'; phase: ScopeStatus['phase']; done: boolean; passes: number }
  | { result: 'failed'; step: string; error: string; passes: number };

const API_VERSION = 'scope.zenokube.io/v1alpha1';
/** Passes per call: each waits for nothing, so this bounds a call's work, not its time. */
const MAX_PASSES = 12;

const targetRef = (t: Target) => ({ apiVersion: API_VERSION, kind: t.kind, ...(t.kind === 'ZenoApp' ? { namespace: t.namespace! } : {}), name: t.name });

/** Writes the status computed for `generation`, unless the object has moved on to a newer one. */
async function writeStatus(r: Reconciler, t: Target, status: ScopeStatus, generation: number | undefined): Promise<void> {
  const fresh = (await r.kube.get(targetRef(t))) as ScopeResource | undefined;
  if (!fresh || fresh.metadata.generation !== generation) return;
  const prev = (fresh.status ?? {}) as { conditions?: TimedCondition[] };
  const next = { ...status, conditions: stampConditions(status.conditions, prev.conditions, r.now().toISOString().replace(/\.\d+Z$/, 'Z')) };
  if (JSON.stringify(next) === JSON.stringify(fresh.status)) return;
  try {
    await r.kube.mergePatch(targetRef(t), { metadata: { resourceVersion: fresh.metadata.resourceVersion }, status: next }, 'status');
  } catch (err) {
    // Someone wrote the object meanwhile: its watch event brings another reconcile, which writes.
    if (!isConflict(err)) throw err;
  }
}

function failedStatus(status: ScopeStatus, action: Action, message: string): ScopeStatus {
  const type = 'step' in action ? CONDITION_OF[action.step] : 'Ready';
  const conditions: Condition[] = status.conditions.map((c) =>
    c.type === type ? { ...c, status: 'False', reason: 'Failed', message } : c.type === 'Ready' ? { ...c, status: 'False', reason: 'Failed', message: `${type}: ${message}` } : c,
  );
  return { ...status, phase: 'Failed', conditions };
}

/** The previous status with Ready turned False: nothing could be read, so nothing else is known. */
function observeFailed(resource: ScopeResource, message: string): ScopeStatus {
  const prev = (resource.status ?? {}) as Partial<ScopeStatus>;
  const gen = resource.metadata.generation !== undefined ? { observedGeneration: resource.metadata.generation } : {};
  const others = (prev.conditions ?? []).filter((c) => c.type !== 'Ready').map(({ type, status, reason, message: m, observedGeneration }) => ({ type, status, reason, message: m, ...(observedGeneration !== undefined ? { observedGeneration } : {}) }));
  return { ...prev, ...gen, namespace: prev.namespace ?? '', phase: 'Failed', conditions: [...others, { type: 'Ready', status: 'False', reason: 'ObserveFailed', message, ...gen }] };
}

export async function reconcileTarget(r: Reconciler, t: Target): Promise<Outcome> {
  const ref = targetRef(t);
  const first = (await r.kube.get(ref)) as ScopeResource | undefined;
  if (!first) return { result: 'gone' };
  const release = await takeLease(r.kube, r.leaseNamespace, `scope-${first.metadata.uid ?? t.name}`.slice(0, 253), r.holder, 60, r.now());
  if (!release) return { result: 'busy' };
  try {
    passes: for (let passes = 1; ; passes++) {
      const resource = passes === 1 ? first : ((await r.kube.get(ref)) as ScopeResource | undefined);
      if (!resource) return { result: 'gone' };
      resource.kind = t.kind;
      let observed;
      try {
        observed = await observe(r, resource);
      } catch (err) {
        const message = `reading the current state failed: ${(err as Error).message}`.slice(0, 1000);
        r.log.warn('scope reconcile observe failed', { target: `${t.kind}/${t.namespace ?? ''}/${t.name}`, err });
        await writeStatus(r, t, observeFailed(resource, message), resource.metadata.generation);
        return { result: 'failed', step: 'observe', error: message, passes };
      }
      const result = reconcile(observed);
      for (const action of result.actions) {
        try {
          await execute(r, resource, action);
        } catch (err) {
          // Someone wrote in between (a precondition failed): read again and recompute.
          if (isConflict(err) && passes < MAX_PASSES) continue passes;
          const message = `${describeAction(action)} failed: ${(err as Error).message}`.slice(0, 1000);
          r.log.warn('scope reconcile step failed', { target: `${t.kind}/${t.namespace ?? ''}/${t.name}`, action: describeAction(action), err });
          if (!(resource.metadata.deletionTimestamp && action.type === 'removeFinalizer')) await writeStatus(r, t, failedStatus(result.status, action, message), resource.metadata.generation);
          return { result: 'failed', step: 'step' in action ? action.step : action.type, error: message, passes };
        }
      }
      const gone = result.actions.some((a) => a.type === 'removeFinalizer') && resource.metadata.deletionTimestamp;
      if (gone) return { result: 'gone' };
      if (result.actions.length === 0 || passes >= MAX_PASSES) {
        await writeStatus(r, t, result.status, resource.metadata.generation);
        return { result: 'reconciled', phase: result.status.phase, done: result.done, passes };
      }
      await writeStatus(r, t, result.status, resource.metadata.generation);
    }
  } finally {
    await release();
  }
}

/** Every ZenoScope and ZenoApp, for the resync. */
export async function listTargets(r: Reconciler): Promise<Target[]> {
  const scopes = await r.kube.list({ apiVersion: API_VERSION, kind: 'ZenoScope' }, '');
  const apps = await r.kube.list({ apiVersion: API_VERSION, kind: 'ZenoApp' }, '');
  return [
    ...scopes.map((o) => ({ kind: 'ZenoScope' as const, name: o.metadata.name })),
    ...apps.map((o) => ({ kind: 'ZenoApp' as const, namespace: o.metadata.namespace!, name: o.metadata.name })),
  ];
}
