// Status conditions as metav1.Condition has them; the lastTransitionTime is kept while a condition
// holds and set when its status changes.
// @see https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#typical-status-properties

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
}

export type TimedCondition = Condition & { lastTransitionTime: string };

/** Stamps each condition: the previous time when its status has not changed, `now` otherwise. */
export function stampConditions(next: readonly Condition[], prev: readonly TimedCondition[] | undefined, now: string): TimedCondition[] {
  return next.map((c) => {
    const before = prev?.find((p) => p.type === c.type && p.status === c.status);
    return { ...c, lastTransitionTime: before?.lastTransitionTime ?? now };
  });
}
