// One reconcile of an object at a time across every pod: a coordination.k8s.io/v1 Lease per
// object, taken with a create or a resourceVersion-preconditioned patch, so two pods racing for it
// cannot both win; a holder that died is replaced once its lease has expired.
// @see https://kubernetes.io/docs/concepts/architecture/leases/
import type { KubeObject } from '#functions/scope/core/objects';
import type { KubeApi } from './kube.js';
import { isConflict } from '#shared/kube/rest';

const LEASE = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
}

/** Takes the lease `name`; returns its release, or undefined when someone else holds it. */
export async function takeLease(kube: KubeApi, namespace: string, name: string, holder: string, seconds: number, now: Date): Promise<(() => Promise<void>) | undefined> {
  const ref = { ...LEASE, namespace, name };
  const spec = { holderIdentity: holder, leaseDurationSeconds: seconds, acquireTime: now.toISOString().replace('Z', '000Z'), renewTime: now.toISOString().replace('Z', '000Z') };
  const existing = await kube.get(ref);
  let taken: KubeObject;
  if (!existing) {
    if (!(await kube.create({ ...LEASE, metadata: { name, namespace }, spec }))) return undefined;
    const fresh = await kube.get(ref);
    if ((fresh?.spec as LeaseSpec | undefined)?.holderIdentity !== holder) return undefined;
    taken = fresh!;
  } else {
    const s = (existing.spec ?? {}) as LeaseSpec;
    const until = Date.parse(s.renewTime ?? '') + (s.leaseDurationSeconds ?? 0) * 1000;
    if (s.holderIdentity && s.holderIdentity !== holder && until > now.getTime()) return undefined;
    try {
      taken = await kube.mergePatch(ref, { metadata: { resourceVersion: existing.metadata.resourceVersion }, spec });
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }
  return async () => {
    // Only the version we hold: a lease taken over after it expired is the new holder's.
    await kube.remove(ref, taken.metadata.resourceVersion).catch((err: unknown) => {
      if (!isConflict(err)) throw err;
    });
  };
}
