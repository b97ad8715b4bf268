// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (k8s.io/client-go/tools/leaderelection): one holder at a time, named in `holderIdentity`; the
// holder renews `renewTime` every retry period; another candidate takes the Lease only when it
// has seen the same record, unchanged, for `leaseDurationSeconds` by its own clock (so clock
// skew between nodes does not matter), and then bumps `leaseTransitions` and sets `acquireTime`.
// Every write is an update carrying the resourceVersion it read: two candidates racing for an
// expired Lease get one 200 and one 409. A leader that has not renewed for `renewDeadline`
// (shorter than the lease) stops acting as leader before anyone else may take over. On a clean
// stop the leader releases the Lease (empty holder), so the next candidate takes it at once.
// @see https://kubernetes.io/docs/concepts/architecture/leases/
import { ApiException, CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { performance } from 'node:perf_hooks';
import type { Logger } from '#shared/log/index';

export interface LeaderElectionConfig {
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  /** This candidate's identity, unique per process (pod name and a random suffix). */
  identity: string;
  /** How long a Lease holds after its last observed renewal; default 15 s (client-go's). */
  leaseDurationMs?: number;
  /** The leader steps down when it could not renew for this long; default 10 s. */
  renewDeadlineMs?: number;
  /** Interval between tries to acquire or renew; default 2 s. */
  retryPeriodMs?: number;
}

interface LeaderElectorOptions extends LeaderElectionConfig {
  kc: KubeConfig;
  log: Logger;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

interface LeaderElector {
  /** True while this candidate holds the Lease and renewed it within the renew deadline. */
  isLeader(): boolean;
  /** Stops trying; a leader gives up leadership at once and then releases the Lease. */
  stop(): Promise<void>;
}

/** client-go's JitterFactor: a candidate waits retryPeriod × (1 + up to 1.2) between tries. */
const JITTER = 1.2;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
/** A Lease time as read (client-node hands MicroTime fields over as the server's strings) or as built here. */
const micro = (t: unknown): V1MicroTime | undefined => {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isNaN(ms) ? undefined : new V1MicroTime(ms);
};
const status = (err: unknown) => (err instanceof ApiException ? (err as ApiException<unknown>).code : undefined);

export function startLeaderElection(opts: LeaderElectorOptions): LeaderElector {
  const leaseMs = opts.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
  const retryMs = opts.retryPeriodMs ?? 2_000;
  if (!(leaseMs > renewDeadlineMs && renewDeadlineMs > JITTER * retryMs && retryMs > 0)) {
    throw new RangeError('leader election needs leaseDuration > renewDeadline > 1.2 × retryPeriod > 0');
  }
  const leaseSeconds = Math.max(1, Math.ceil(leaseMs / 1000));
  const api = opts.kc.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity } = opts;
  // What we last saw of the Lease, and when (monotonic clock), as client-go's observedRecord/observedTime.
  let observed: string | undefined;
  let observedAt = 0;
  let lastRenew = -Infinity;
  let leading = false;
  let stopped = false;
  let wake: (() => void) | undefined;

  const record = (spec: V1LeaseSpec | undefined) =>
    JSON.stringify([spec?.holderIdentity ?? '', spec?.leaseDurationSeconds, micro(spec?.acquireTime)?.toISOString(), micro(spec?.renewTime)?.toISOString(), spec?.leaseTransitions]);
  const holding = () => leading && !stopped && performance.now() - lastRenew < renewDeadlineMs;

  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = new V1MicroTime(Date.now());
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (status(err) !== 404) throw err;
      const spec: V1LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
      try {
        await api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec } });
      } catch (createErr) {
        if (status(createErr) === 409) return false; // another candidate created it first
        throw createErr;
      }
      observed = record(spec);
      observedAt = performance.now();
      return true;
    }
    const spec: V1LeaseSpec = { ...lease.spec, acquireTime: micro(lease.spec?.acquireTime), renewTime: micro(lease.spec?.renewTime) };
    const seen = record(spec);
    if (seen !== observed) {
      observed = seen;
      observedAt = performance.now();
    }
    const holder = spec.holderIdentity ?? '';
    const mine = holder === identity;
    if (holder !== '' && !mine && observedAt + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 > performance.now()) return false;
    const next: V1LeaseSpec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds,
      renewTime: now,
      // Renewal keeps acquireTime and the count; a takeover (or a released Lease) is a transition.
      acquireTime: mine ? spec.acquireTime : now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      // resourceVersion from the read: a concurrent writer makes this a 409, never a lost update.
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: next } });
    } catch (err) {
      if (status(err) === 409) return false;
      throw err;
    }
    observed = record(next);
    observedAt = performance.now();
    return true;
  };

  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      let ok = false;
      try {
        ok = await tryAcquireOrRenew();
      } catch (err) {
        if (!stopped) opts.log.warn('leader election: cannot read or write the Lease', { lease: `${namespace}/${name}`, err });
      }
      if (stopped) break;
      if (ok) {
        lastRenew = started;
        if (!leading) {
          leading = true;
          opts.log.info('leader election: this replica leads', { lease: `${namespace}/${name}`, identity });
          opts.onStartedLeading();
        }
      } else if (leading && !holding()) {
        leading = false;
        opts.log.warn('leader election: lost the Lease; stepping down', { lease: `${namespace}/${name}`, identity });
        opts.onStoppedLeading();
      }
      // A leader renews every retry period; a candidate waits with jitter so that candidates spread out.
      const wait = leading ? retryMs : retryMs * (1 + Math.random() * JITTER);
      await new Promise<void>((r) => {
        wake = r;
        void sleep(wait).then(r);
      });
    }
  })();

  // A leader that cannot renew (an API call hanging) must still stop acting as leader in time.
  const watchdog = setInterval(() => {
    if (leading && !holding()) {
      leading = false;
      opts.log.warn('leader election: renew deadline passed; stepping down', { lease: `${namespace}/${name}`, identity });
      opts.onStoppedLeading();
    }
  }, Math.max(10, Math.floor(retryMs / 4)));
  watchdog.unref();

  return {
    isLeader: holding,
    async stop() {
      if (stopped) return;
      const wasLeading = holding();
      stopped = true;
      clearInterval(watchdog);
      wake?.();
      await loop;
      if (leading) {
        leading = false;
        opts.onStoppedLeading();
      }
      if (!wasLeading) return;
      // Release: an empty holder lets the next candidate take over without waiting out the lease.
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        const now = new V1MicroTime(Date.now());
        await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } } });
        opts.log.info('leader election: released the Lease', { lease: `${namespace}/${name}`, identity });
      } catch (err) {
        opts.log.warn('leader election: could not release the Lease; it expires on its own', { lease: `${namespace}/${name}`, err });
      }
    },
  };
}
