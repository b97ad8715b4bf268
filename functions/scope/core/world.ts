// The observed objects of one reconcile, indexed, and the verdict type each step returns.
import { refKey, refOf, type Action, type Step } from './actions.js';
import { OWNER_LABEL, SHARER_PREFIX } from './names.js';
import { STEP_LABEL, type KubeObject } from './objects.js';
import type { Observed } from './observed.js';

/** One step's verdict on this pass. */
export interface StepResult {
  actions: Action[];
  ready: boolean;
  reason: string;
  message: string;
}

/** The objects as read, by reference key. */
export class World {
  readonly observed: Observed;
  readonly byKey: Map<string, KubeObject>;
  constructor(observed: Observed) {
    this.observed = observed;
    this.byKey = new Map(observed.objects.map((o) => [refKey(refOf(o)), o]));
  }
  get(o: KubeObject): KubeObject | undefined {
    return this.byKey.get(refKey(refOf(o)));
  }
  /** Objects of a step this resource owns or shares. */
  ofStep(step: Step, uid: string): KubeObject[] {
    return this.observed.objects.filter((o) => o.metadata.labels?.[STEP_LABEL] === step && (o.metadata.labels?.[OWNER_LABEL] === uid || o.metadata.labels?.[`${SHARER_PREFIX}${uid}`] === 'true'));
  }
}

