// A faithful in-process fake of the Kubernetes API server, for the ingress controller's tests:
// list + watch (newline-delimited JSON events after a resourceVersion, bookmarks on request),
// get/create/update/merge-patch/delete, the status subresource (only .status changes there, and
// only there), metadata.generation bumped on spec changes, finalizers and deletionTimestamp
// (delete marks, the last finalizer removed deletes), equality label selectors on lists. Not a real
// API server: no auth, no admission, no field selectors; that is what the tests need and no more.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; spec?: unknown; status?: unknown; [k: string]: unknown };
interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  collection: string;
  object: Obj;
}

export interface FakeApiServer {
  readonly url: string;
  /** Creates or replaces an object as a client would (kind/apiVersion taken from it). */
  put(obj: Obj): Obj;
  get(collection: string, namespace: string, name: string): Obj | undefined;
  remove(collection: string, namespace: string, name: string): void;
  /** Requests received, as `METHOD path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** `/api/v1/services` style collection key of an object. */
function collectionOf(obj: { apiVersion?: string; kind?: string }): string {
  const plural = `${obj.kind!.toLowerCase()}${obj.kind!.endsWith('s') ? 'es' : 's'}`;
  return obj.apiVersion!.includes('/') ? `/apis/${obj.apiVersion}/${plural}` : `/api/${obj.apiVersion}/${plural}`;
}

const clone = <T>(v: T): T => structuredClone(v);

/** `a=b,c==d` → pairs; undefined for what the fake does not support (`in`, `!=`, `!x`). */
function labelSelector(text: string | null): [string, string][] | undefined {
  if (!text) return [];
  const pairs: [string, string][] = [];
  for (const term of text.split(',')) {
    const m = /^([^=!]+)==?([^=]*)$/.exec(term.trim());
    if (!m) return undefined;
    pairs.push([m[1]!, m[2]!]);
  }
  return pairs;
}

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let rv = 1;
  const store = new Map<string, Map<string, Obj>>();
  const kinds = new Map<string, { apiVersion: string; kind: string }>();
  const history: Event[] = [];
  const watchers = new Set<{ collection: string; res: ServerResponse; bookmarks: boolean }>();
  const requests: string[] = [];

  const coll = (c: string) => {
    let m = store.get(c);
    if (!m) store.set(c, (m = new Map()));
    return m;
  };
  const emit = (collection: string, type: Event['type'], object: Obj) => {
    const ev: Event = { rv: Number(object.metadata.resourceVersion), type, collection, object: clone(object) };
    history.push(ev);
    for (const w of watchers) if (w.collection === collection) w.res.write(JSON.stringify({ type, object: ev.object }) + '\n');
  };
  const save = (collection: string, obj: Obj, type: Event['type']) => {
    obj.metadata.resourceVersion = String(++rv);
    coll(collection).set(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, obj);
    emit(collection, type, obj);
    return obj;
  };
  const write = (collection: string, prev: Obj | undefined, next: Obj, subresource: boolean): Obj => {
    kinds.set(collection, { apiVersion: next.apiVersion ?? prev!.apiVersion!, kind: next.kind ?? prev!.kind! });
    if (!prev) {
      next.metadata.uid = `uid-${rv + 1}`;
      next.metadata.creationTimestamp = new Date().toISOString();
      next.metadata.generation = 1;
      return save(collection, next, 'ADDED');
    }
    const merged: Obj = subresource ? { ...clone(prev), status: next.status } : { ...next, status: prev.status };
    merged.metadata = subresource ? clone(prev.metadata) : { ...next.metadata, uid: prev.metadata.uid, creationTimestamp: prev.metadata.creationTimestamp, deletionTimestamp: prev.metadata.deletionTimestamp };
    merged.metadata.generation = prev.metadata.generation + (!subresource && JSON.stringify(next.spec) !== JSON.stringify(prev.spec) ? 1 : 0);
    if (merged.metadata.deletionTimestamp && (merged.metadata.finalizers ?? []).length === 0) {
      coll(collection).delete(`${prev.metadata.namespace ?? ''}/${prev.metadata.name}`);
      merged.metadata.resourceVersion = String(++rv);
      emit(collection, 'DELETED', merged);
      return merged;
    }
    return save(collection, merged, 'MODIFIED');
  };
  const del = (collection: string, prev: Obj) => {
    if ((prev.metadata.finalizers ?? []).length > 0) {
      if (!prev.metadata.deletionTimestamp) {
        const marked = clone(prev);
        marked.metadata.deletionTimestamp = new Date().toISOString();
        save(collection, marked, 'MODIFIED');
      }
      return;
    }
    coll(collection).delete(`${prev.metadata.namespace ?? ''}/${prev.metadata.name}`);
    const gone = clone(prev);
    gone.metadata.resourceVersion = String(++rv);
    emit(collection, 'DELETED', gone);
  };

  const mergePatch = (target: any, patch: any): any => {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
    const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = mergePatch(out[k], v);
    }
    return out;
  };

  const body = (req: IncomingMessage) =>
    new Promise<any>((resolve) => {
      let s = '';
      req.on('data', (d: Buffer) => (s += d.toString()));
      req.on('end', () => resolve(s ? JSON.parse(s) : undefined));
    });

  const send = (res: ServerResponse, status: number, obj: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const parts = url.pathname.split('/').filter(Boolean);
    const base = parts[0] === 'api' ? 2 : 3; // /api/v1 or /apis/group/version
    const prefix = '/' + parts.slice(0, base).join('/');
    let namespace: string | undefined;
    let rest = parts.slice(base);
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const collection = `${prefix}/${rest[0]}`;
    const name = rest[1];
    const sub = rest[2];
    const key = `${namespace ?? ''}/${name}`;
    if (req.method === 'GET' && !name) {
      if (url.searchParams.get('watch') === 'true') {
        const from = Number(url.searchParams.get('resourceVersion') ?? 0);
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        const w = { collection, res, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
        for (const ev of history) if (ev.collection === collection && ev.rv > from) res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
        if (w.bookmarks) res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: kinds.get(collection)?.kind ?? 'Unknown', apiVersion: kinds.get(collection)?.apiVersion ?? 'v1', metadata: { resourceVersion: String(rv) } } }) + '\n');
        watchers.add(w);
        req.on('close', () => watchers.delete(w));
        return;
      }
      const selector = labelSelector(url.searchParams.get('labelSelector'));
      if (!selector) return send(res, 400, { kind: 'Status', code: 400, reason: 'BadRequest', message: 'the fake supports only equality label selectors' });
      const items = [...coll(collection).values()]
        .filter((o) => (!namespace || o.metadata.namespace === namespace) && selector.every(([k, v]) => o.metadata.labels?.[k] === v))
        .map(clone);
      return send(res, 200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
    }
    const prev = coll(collection).get(key);
    if (req.method === 'GET') return prev ? send(res, 200, prev) : send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    if (req.method === 'POST' && !name) {
      const obj = (await body(req)) as Obj;
      obj.metadata.namespace ??= namespace;
      if (coll(collection).has(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`)) return send(res, 409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
      return send(res, 201, write(collection, undefined, obj, false));
    }
    if (!prev) return send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    if (req.method === 'DELETE') {
      del(collection, prev);
      return send(res, 200, { kind: 'Status', status: 'Success' });
    }
    if (req.method === 'PUT' || req.method === 'PATCH') {
      const input = await body(req);
      if (req.method === 'PUT' && input.metadata?.resourceVersion && input.metadata.resourceVersion !== prev.metadata.resourceVersion) {
        return send(res, 409, { kind: 'Status', code: 409, reason: 'Conflict' });
      }
      const next = req.method === 'PUT' ? (input as Obj) : (mergePatch(clone(prev), input) as Obj);
      return send(res, 200, write(collection, prev, next, sub === 'status'));
    }
    send(res, 405, { kind: 'Status', code: 405 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    put(obj) {
      const collection = collectionOf(obj);
      const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
      return write(collection, coll(collection).get(key), clone(obj), false);
    },
    get: (collection, namespace, name) => coll(collection).get(`${namespace}/${name}`),
    remove(collection, namespace, name) {
      const prev = coll(collection).get(`${namespace}/${name}`);
      if (prev) del(collection, prev);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const w of watchers) w.res.end();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
