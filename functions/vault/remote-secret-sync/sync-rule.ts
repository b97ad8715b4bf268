// The pure sync rule of the RemoteSecret operator: from what was observed (the resource, its target
// Secret, the vault's answer for the path) to the writes that bring the Secret in step, and the
// status that says how it went. No I/O: sync.ts reads and carries the actions out.
// The policies follow External Secrets Operator's ExternalSecret:
// @see https://external-secrets.io/latest/guides/ownership-deletion-policy/
import {
  API_VERSION, KEYS_ANNOTATION, MANAGED_LABEL, OWNER_UID_ANNOTATION,
  settingsOf, type Condition, type RemoteSecret, type RemoteSecretStatus, type Secret, type Settings,
} from './resource.js';

/** The vault's answer for the path: its latest version, gone (404, or deleted/destroyed), or no answer. */
export type Remote =
  | { state: 'found'; version: number; data: Record<string, unknown> }
  | { state: 'gone' }
  | { state: 'failed'; message: string };

export interface Observed {
  resource: RemoteSecret;
  /** The target Secret as read, undefined when absent. */
  secret: Secret | undefined;
  remote: Remote;
  /** RFC 3339, seconds precision. */
  now: string;
}

export type SyncAction =
  | { type: 'createSecret'; secret: Secret }
  /** A full update carrying the resourceVersion it was computed from (409 when stale). */
  | { type: 'replaceSecret'; secret: Secret }
  /** A JSON merge patch (RFC 7386) with a resourceVersion precondition. */
  | { type: 'patchSecret'; name: string; patch: { metadata: Record<string, unknown>; data: Record<string, string | null> } }
  | { type: 'deleteSecret'; name: string; resourceVersion: string }
  | { type: 'writeStatus'; status: RemoteSecretStatus };

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * Whether a namespace may read `path`: only its own subtrees, `scopes/<namespace>` and
 * `apps/<namespace>`, the paths ZenoScope gives it. The operator reads with its own vault login,
 * so this check is what keeps one namespace from copying another's secrets into itself.
 */
export function pathAllowed(namespace: string, path: string): boolean {
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return false;
  return [`scopes/${namespace}`, `apps/${namespace}`].some((p) => path === p || path.startsWith(`${p}/`));
}

/** Why a sync is asked for: the resource changed, its Secret changed, or the periodic resync. */
export type Cause = 'resource' | 'secret' | 'resync';

/** Whether the resource needs the vault read now (level-triggered: a hint alone is not a reason). */
export function needsSync(r: RemoteSecret, cause: Cause, now: Date): boolean {
  if (r.metadata.deletionTimestamp) return false;
  const s = r.status ?? {};
  if (s.observedGeneration !== r.metadata.generation) return true;
  if (readyOf(s)?.reason !== 'SecretSynced' && readyOf(s)?.reason !== 'SecretDeleted' && readyOf(s)?.reason !== 'SecretRetained') return true;
  if (cause === 'secret') return true;
  const every = settingsOf(r).refreshSeconds;
  if (every <= 0) return false;
  const last = Date.parse(s.refreshTime ?? '');
  return !Number.isFinite(last) || last + every * 1000 <= now.getTime();
}

const readyOf = (s: RemoteSecretStatus) => s.conditions?.find((c) => c.type === 'Ready');

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64');

/** The Secret's data the path maps to (base64 values), or why it cannot be built. */
function wantedData(set: Settings, remote: Record<string, unknown>): { data: Record<string, string> } | { error: string } {
  const data: Record<string, string> = {};
  if (set.data.length === 0) {
    for (const [k, v] of Object.entries(remote)) {
      if (!SECRET_KEY.test(k) || k.length > 253) return { error: `the path holds key "${k.slice(0, 64)}", which is not a valid Secret key; map the keys with spec.data` };
      if (v !== null && v !== undefined) data[k] = b64(v);
    }
    return { data };
  }
  for (const { secretKey, remoteKey } of set.data) {
    if (!Object.hasOwn(remote, remoteKey) || remote[remoteKey] === null) return { error: `the path has no key "${remoteKey.slice(0, 64)}"` };
    data[secretKey] = b64(remote[remoteKey]);
  }
  return { data };
}

const same = (a: Record<string, string> | undefined, b: Record<string, string>) => {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b[k]);
};

const ours = (s: Secret, r: RemoteSecret) => s.metadata.annotations?.[OWNER_UID_ANNOTATION] === r.metadata.uid && s.metadata.labels?.[MANAGED_LABEL] === r.metadata.name;

function ownerRefs(r: RemoteSecret) {
  return [{ apiVersion: API_VERSION, kind: 'RemoteSecret', name: r.metadata.name, uid: r.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
}

/** The Secret the Owner and Orphan policies keep: `prev`'s other metadata kept, ours set. */
function ownedSecret(r: RemoteSecret, set: Settings, data: Record<string, string>, prev: Secret | undefined): Secret {
  const meta = prev?.metadata ?? { name: set.targetName, namespace: r.metadata.namespace! };
  const others = (meta.ownerReferences ?? []).filter((o) => o.uid !== r.metadata.uid);
  const owners = set.creationPolicy === 'Owner' ? [...others, ...ownerRefs(r)] : others;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...meta,
      labels: { ...meta.labels, [MANAGED_LABEL]: r.metadata.name },
      annotations: { ...meta.annotations, [OWNER_UID_ANNOTATION]: r.metadata.uid ?? '' },
      ...(owners.length > 0 ? { ownerReferences: owners } : {}),
    },
    // A Secret's type cannot change once written: an existing one keeps its own.
    type: prev?.type ?? set.type,
    data,
  };
}

function condition(r: RemoteSecret, now: string, status: Condition['status'], reason: string, message: string): Condition {
  const prev = readyOf(r.status ?? {});
  const gen = r.metadata.generation !== undefined ? { observedGeneration: r.metadata.generation } : {};
  return { type: 'Ready', status, reason, message, ...gen, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime ?? now : now };
}

function status(r: RemoteSecret, ready: Condition, read: { refreshTime: string; version?: number } | undefined): RemoteSecretStatus {
  const prev = r.status ?? {};
  const version = read?.version ?? prev.syncedVersion;
  return {
    ...(r.metadata.generation !== undefined ? { observedGeneration: r.metadata.generation } : {}),
    ...(read ? { refreshTime: read.refreshTime } : prev.refreshTime ? { refreshTime: prev.refreshTime } : {}),
    ...(version !== undefined ? { syncedVersion: version } : {}),
    conditions: [...(prev.conditions ?? []).filter((c) => c.type !== 'Ready'), ready],
  };
}

const failed = (o: Observed, message: string): SyncAction[] => [{ type: 'writeStatus', status: status(o.resource, condition(o.resource, o.now, 'False', 'SecretSyncedError', message), undefined) }];

/** The writes that bring the target Secret in step with the path, the status last. */
export function syncRule(o: Observed): SyncAction[] {
  const r = o.resource;
  if (r.metadata.deletionTimestamp) return []; // the owner reference lets the garbage collector take an owned Secret
  const set = settingsOf(r);
  const ns = r.metadata.namespace ?? '';
  if (set.refreshSeconds < 0) return failed(o, `refreshInterval "${r.spec.refreshInterval}" is not a duration such as 1h30m`);
  if (!pathAllowed(ns, set.path)) return failed(o, `path ${set.path} is outside this namespace's vault paths (scopes/${ns}/…, apps/${ns}/…)`);
  if (new Set(set.data.map((d) => d.secretKey)).size !== set.data.length) return failed(o, 'spec.data names a secretKey twice');
  if (o.remote.state === 'failed') return failed(o, `reading ${set.mount}/${set.path} failed: ${o.remote.message}; the Secret keeps its last values`);
  const secret = o.secret;
  const mine = secret !== undefined && ours(secret, r);
  const read = { refreshTime: o.now, ...(o.remote.state === 'found' ? { version: o.remote.version } : {}) };

  if (o.remote.state === 'gone') {
    if (set.deletionPolicy === 'Retain' || set.creationPolicy === 'None' || !secret || !mine) {
      const message = secret && set.deletionPolicy === 'Retain' ? `${set.mount}/${set.path} is gone; Secret ${set.targetName} keeps its last values (deletionPolicy Retain)` : `${set.mount}/${set.path} is gone`;
      return [{ type: 'writeStatus', status: status(r, condition(r, o.now, 'False', set.deletionPolicy === 'Retain' ? 'SecretRetained' : 'SecretDeleted', message), read) }];
    }
    const removal: SyncAction =
      set.creationPolicy === 'Merge'
        ? { type: 'patchSecret', name: secret.metadata.name, patch: mergeRemoval(secret) }
        : { type: 'deleteSecret', name: secret.metadata.name, resourceVersion: secret.metadata.resourceVersion ?? '' };
    const what = set.creationPolicy === 'Merge' ? 'its keys were removed from' : 'it deleted';
    return [removal, { type: 'writeStatus', status: status(r, condition(r, o.now, 'False', 'SecretDeleted', `${set.mount}/${set.path} is gone; ${what} Secret ${set.targetName} (deletionPolicy Delete)`), read) }];
  }

  const wanted = wantedData(set, o.remote.data);
  if ('error' in wanted) return failed(o, wanted.error);
  const synced = status(r, condition(r, o.now, 'True', 'SecretSynced', `Secret ${set.targetName} holds version ${o.remote.version} of ${set.mount}/${set.path}`), read);
  const done: SyncAction = { type: 'writeStatus', status: synced };
  if (set.creationPolicy === 'None') return [{ ...done, status: status(r, condition(r, o.now, 'True', 'SecretSynced', `read version ${o.remote.version} of ${set.mount}/${set.path}; creationPolicy None writes no Secret`), read) }];
  if (set.creationPolicy === 'Merge') {
    if (!secret) return failed(o, `Secret ${set.targetName} does not exist; creationPolicy Merge only adds keys to an existing Secret`);
    const patch = mergePatch(r, secret, wanted.data);
    return patch ? [{ type: 'patchSecret', name: secret.metadata.name, patch }, done] : [done];
  }
  if (!secret) return [{ type: 'createSecret', secret: ownedSecret(r, set, wanted.data, undefined) }, done];
  if (!mine) return failed(o, `Secret ${set.targetName} exists and is not managed by this RemoteSecret; remove it, or use creationPolicy Merge`);
  const next = ownedSecret(r, set, wanted.data, secret);
  const unchanged = same(secret.data, wanted.data) && JSON.stringify(secret.metadata) === JSON.stringify(next.metadata);
  return unchanged ? [done] : [{ type: 'replaceSecret', secret: next }, done];
}

const keysOf = (s: Secret) => (s.metadata.annotations?.[KEYS_ANNOTATION] ?? '').split(',').filter(Boolean);

/** Our keys written into someone else's Secret; keys we wrote before and no longer want removed. */
function mergePatch(r: RemoteSecret, s: Secret, data: Record<string, string>): Extract<SyncAction, { type: 'patchSecret' }>['patch'] | undefined {
  const prevKeys = keysOf(s);
  const keys = Object.keys(data).sort();
  const changes: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(data)) if (s.data?.[k] !== v) changes[k] = v;
  for (const k of prevKeys) if (!Object.hasOwn(data, k) && s.data?.[k] !== undefined) changes[k] = null;
  const marked = prevKeys.join(',') === keys.join(',') && ours(s, r);
  if (Object.keys(changes).length === 0 && marked) return undefined;
  return {
    metadata: {
      resourceVersion: s.metadata.resourceVersion,
      labels: { [MANAGED_LABEL]: r.metadata.name },
      annotations: { [OWNER_UID_ANNOTATION]: r.metadata.uid ?? '', [KEYS_ANNOTATION]: keys.join(',') },
    },
    data: changes,
  };
}

/** Takes back from a merged Secret only the keys we wrote, and our marks. */
function mergeRemoval(s: Secret): Extract<SyncAction, { type: 'patchSecret' }>['patch'] {
  return {
    metadata: { resourceVersion: s.metadata.resourceVersion, labels: { [MANAGED_LABEL]: null }, annotations: { [OWNER_UID_ANNOTATION]: null, [KEYS_ANNOTATION]: null } },
    data: Object.fromEntries(keysOf(s).filter((k) => s.data?.[k] !== undefined).map((k) => [k, null])),
  };
}
