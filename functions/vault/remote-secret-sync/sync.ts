// One sync of one RemoteSecret, as an API event or the resync asks: read the resource again (the
// event is only a hint), decide whether the vault must be read, read it, run the pure sync rule,
// carry its writes out. A write computed from a stale Secret or resource meets a 409 (every write
// carries the resourceVersion it was computed from): read again and recompute, so two pods syncing
// the same resource cannot undo each other's work.
import type { Logger } from '#shared/log/index';
import { isConflict } from '#shared/kube/rest';
import type { KubeApi } from './kube.js';
import { settingsOf, type RemoteSecret } from './resource.js';
import { needsSync, syncRule, type Cause, type SyncAction } from './sync-rule.js';
import type { VaultReader } from './vault-reader.js';

export interface SyncDeps {
  kube: KubeApi;
  vault: VaultReader;
  log: Logger;
  now: () => Date;
}

type SyncOutcome =
  | { result: 'gone' | 'skipped' }
  | { result: 'synced'; ready: boolean; reason: string }
  | { result: 'failed'; error: string };

const MAX_PASSES = 5;

async function execute(d: SyncDeps, r: RemoteSecret, a: SyncAction): Promise<void> {
  const ns = r.metadata.namespace!;
  if (a.type === 'createSecret') return d.kube.createSecret(a.secret);
  if (a.type === 'replaceSecret') return d.kube.replaceSecret(a.secret);
  if (a.type === 'patchSecret') return d.kube.mergePatchSecret(ns, a.name, a.patch);
  if (a.type === 'deleteSecret') return d.kube.deleteSecret(ns, a.name, a.resourceVersion);
  if (JSON.stringify(a.status) !== JSON.stringify(r.status ?? {})) await d.kube.writeStatus(r, a.status);
}

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

export async function syncOne(d: SyncDeps, namespace: string, name: string, cause: Cause): Promise<SyncOutcome> {
  for (let pass = 1; ; pass++) {
    const r = await d.kube.getRemoteSecret(namespace, name);
    if (!r) return { result: 'gone' };
    // A conflict retried is a change seen: the retry reads the vault whatever the schedule says.
    if (pass === 1 && !needsSync(r, cause, d.now())) return { result: 'skipped' };
    const set = settingsOf(r);
    const secret = await d.kube.getSecret(namespace, set.targetName);
    const remote = await d.vault.read(set.mount, set.role, set.path);
    const actions = syncRule({ resource: r, secret, remote, now: stamp(d.now()) });
    try {
      for (const a of actions) await execute(d, r, a);
    } catch (err) {
      if (isConflict(err) && pass < MAX_PASSES) continue;
      const message = (err as Error).message.slice(0, 500);
      d.log.warn('remote secret sync failed', { remoteSecret: `${namespace}/${name}`, err });
      const last = actions.at(-1);
      if (last?.type === 'writeStatus') {
        // Nothing was synced: the last sync time and version stay those of the last success.
        const { refreshTime: _t, syncedVersion: _v, conditions = [], ...rest } = last.status;
        const ready = conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' as const, reason: 'SecretSyncedError', message: `writing Secret ${set.targetName} failed: ${message}` } : c));
        const prev = r.status ?? {};
        const status = { ...rest, ...(prev.refreshTime ? { refreshTime: prev.refreshTime } : {}), ...(prev.syncedVersion !== undefined ? { syncedVersion: prev.syncedVersion } : {}), conditions: ready };
        await d.kube.writeStatus(r, status).catch(() => undefined);
      }
      return { result: 'failed', error: message };
    }
    const ready = actions.at(-1)?.type === 'writeStatus' ? (actions.at(-1) as Extract<SyncAction, { type: 'writeStatus' }>).status.conditions?.find((c) => c.type === 'Ready') : undefined;
    if (ready?.reason === 'SecretSyncedError') return { result: 'failed', error: ready.message };
    return { result: 'synced', ready: ready?.status === 'True', reason: ready?.reason ?? '' };
  }
}

/** The resync: every RemoteSecret that is due; one failing does not stop the others. */
export async function syncAll(d: SyncDeps): Promise<{ namespace: string; name: string; outcome: SyncOutcome }[]> {
  const out = [];
  for (const r of await d.kube.listRemoteSecrets()) {
    const namespace = r.metadata.namespace!;
    const outcome = await syncOne(d, namespace, r.metadata.name, 'resync').catch((err: unknown) => ({ result: 'failed' as const, error: (err as Error).message }));
    out.push({ namespace, name: r.metadata.name, outcome });
  }
  return out;
}
