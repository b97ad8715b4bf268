// The Kubernetes objects of ZenoScope's local mode, kept in one JSON file under the data directory:
// the same calls scope-reconcile makes on an API server (get, list by equality label selectors,
// apply, create, delete with a resourceVersion precondition, merge patch, the status subresource),
// with what the API server does about them: uid, resourceVersion, generation bumped on a spec
// change, finalizers and deletionTimestamp, and a deleted Namespace taking its objects with it.
// One process uses it at a time (the command that runs the reconcile). Not an API server: no
// field ownership (an apply replaces the fields it names and merges labels), no admission.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Ref } from '#functions/scope/core/actions';
import type { KubeObject } from '#functions/scope/core/objects';
import type { KubeApi } from '#functions/scope/reconcile/kube';

const keyOf = (r: { apiVersion: string; kind: string; namespace?: string | undefined; name: string }) => `${r.apiVersion}/${r.kind}/${r.namespace ?? ''}/${r.name}`;
const keyOfObject = (o: KubeObject) => keyOf({ apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });

export interface LocalStore extends KubeApi {
  /** Every object, for the local controllers. */
  all(): KubeObject[];
  /** Writes the status as the object's controller would. */
  setStatus(o: KubeObject, status: unknown): void;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function selects(selector: string, o: KubeObject): boolean {
  return selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .every((term) => {
      const m = /^([^=!]+)(==?|!=)(.*)$/.exec(term);
      if (!m) throw new TypeError(`unsupported label selector ${term}`);
      return (o.metadata.labels?.[m[1]!] === m[3]) === (m[2] !== '!=');
    });
}

/** Opens (or starts) the store kept in `file`. */
export function openLocalStore(file: string): LocalStore {
  let data: { rv: number; objects: Record<string, KubeObject> } = { rv: 1, objects: {} };
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as typeof data;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const save = () => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(data, null, 1), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  const clone = <T>(v: T): T => structuredClone(v);
  const precondition = (have: KubeObject, rv: unknown) => {
    if (rv !== undefined && rv !== have.metadata.resourceVersion) throw new Error(`conflict: ${keyOfObject(have)} is at resourceVersion ${have.metadata.resourceVersion}, not ${String(rv)}`);
  };
  const drop = (o: KubeObject) => {
    delete data.objects[keyOfObject(o)];
    // The namespace controller: what lives in a deleted namespace goes with it.
    if (o.kind === 'Namespace') for (const [k, x] of Object.entries(data.objects)) if (x.metadata.namespace === o.metadata.name) delete data.objects[k];
  };
  const put = (next: KubeObject, prev: KubeObject | undefined): KubeObject => {
    next.metadata.resourceVersion = String(++data.rv);
    if (!prev) {
      next.metadata.uid = randomUUID();
      next.metadata.generation = 1;
      next.metadata.creationTimestamp = new Date().toISOString();
    } else {
      next.metadata.uid = prev.metadata.uid;
      next.metadata.creationTimestamp = prev.metadata.creationTimestamp;
      next.metadata.generation = (prev.metadata.generation as number) + (JSON.stringify(next.spec) !== JSON.stringify(prev.spec) ? 1 : 0);
      if (prev.metadata.deletionTimestamp) next.metadata.deletionTimestamp = prev.metadata.deletionTimestamp;
    }
    if (next.metadata.deletionTimestamp && ((next.metadata.finalizers as string[] | undefined) ?? []).length === 0) drop(next);
    else data.objects[keyOfObject(next)] = next;
    save();
    return clone(next);
  };
  return {
    all: () => Object.values(data.objects).map(clone),
    get: async (ref: Ref) => clone(data.objects[keyOf(ref)]),
    list: async (ref, labelSelector) =>
      Object.values(data.objects)
        .filter((o) => o.apiVersion === ref.apiVersion && o.kind === ref.kind && (!ref.namespace || o.metadata.namespace === ref.namespace) && selects(labelSelector, o))
        .map(clone),
    apply: async (object) => {
      const prev = data.objects[keyOfObject(object)];
      const { metadata, ...fields } = clone(object);
      const base = prev ? clone(prev) : ({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: metadata.name } } as KubeObject);
      const next = { ...base, ...fields, status: prev?.status, metadata: { ...base.metadata, ...metadata, labels: { ...base.metadata.labels, ...metadata.labels } } } as KubeObject;
      if (next.status === undefined) delete next.status;
      return put(next, prev);
    },
    create: async (object) => {
      if (data.objects[keyOfObject(object)]) return false;
      put(clone(object), undefined);
      return true;
    },
    remove: async (ref, resourceVersion) => {
      const have = data.objects[keyOf(ref)];
      if (!have) return false;
      precondition(have, resourceVersion);
      if (((have.metadata.finalizers as string[] | undefined) ?? []).length > 0) {
        if (!have.metadata.deletionTimestamp) put({ ...clone(have), metadata: { ...clone(have.metadata), deletionTimestamp: new Date().toISOString() } }, have);
      } else {
        drop(have);
        save();
      }
      return true;
    },
    mergePatch: async (ref, patch, subresource) => {
      const have = data.objects[keyOf(ref)];
      if (!have) throw new Error(`not found: ${keyOf(ref)}`);
      const p = patch as { metadata?: { resourceVersion?: string }; status?: unknown };
      precondition(have, p.metadata?.resourceVersion);
      const { resourceVersion: _rv, ...metaPatch } = p.metadata ?? {};
      const next = subresource === 'status' ? { ...clone(have), status: mergePatch(have.status, p.status) } : (mergePatch(clone(have), { ...p, metadata: metaPatch }) as KubeObject);
      return put(next as KubeObject, have);
    },
    setStatus: (o, status) => {
      const have = data.objects[keyOfObject(o)];
      if (have && JSON.stringify(have.status) !== JSON.stringify(status)) put({ ...clone(have), status: clone(status) }, have);
    },
  };
}
