// A faithful in-process fake of the Kubernetes API server, for the ingress controller's tests:
// list + watch (newline-delimited JSON events after a resourceVersion, bookmarks on request),
// get/create/update/merge-patch/delete, the status subresource (only .status changes there, and
// only there), metadata.generation bumped on spec changes, finalizers and deletionTimestamp
// (delete marks, the last finalizer removed deletes), optimistic concurrency (a PUT or PATCH
// carrying a stale metadata.resourceVersion gets 409 Conflict), `fieldSelector` on metadata.name /
// metadata.namespace and equality `labelSelector`s on list and watch, any kind at any path
// (coordination.k8s.io/v1 Leases included), server-side apply (PATCH application/apply-patch+yaml:
// creates when absent, per-fieldManager ownership of leaf fields with maps merged key by key and
// lists atomic, 409 Conflict on a field another manager owns with another value unless force=true,
// fields a manager stopped applying removed; writes other than apply record no ownership), DELETE
// preconditions (a stale `preconditions.resourceVersion` gets 409), the TokenRequest API
// (POST .../serviceaccounts/<name>/token: 404 without the account, 400 for a body that is not a
// TokenRequest, 422 for an expirationSeconds under 600 or over 2^32, else 201 with a JWT-shaped
// token naming the account, its audiences (default the API server's) and expiry, HMAC-signed by the
// fake and listed in `issuedTokens`; nothing is stored). Not a real API server: no authentication (the bearer
// token only names the caller in the request log), no admission, no validation. Fault hooks:
// drop a watch event, run someone else's write just before a request, cut one caller off.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';

type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; spec?: unknown; status?: unknown; [k: string]: unknown };
/** One request as the fake saw it; `who` is the caller's bearer token. */
export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  who: string | undefined;
  status: number;
}
/** One token the TokenRequest API issued. */
export interface IssuedToken {
  namespace: string;
  serviceAccount: string;
  uid: string;
  audiences: string[];
  expirationSeconds: number;
  expirationTimestamp: string;
  token: string;
}
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
  /** Replaces an object's status as another client writing the status subresource would. */
  setStatus(collection: string, namespace: string, name: string, status: unknown): Obj;
  /** Tokens issued by the TokenRequest API, in order. */
  readonly issuedTokens: IssuedToken[];
  /** Requests received, as `METHOD path`. */
  readonly requests: string[];
  /** Requests received, with their query, caller and answer status. */
  readonly calls: Call[];
  /** The next `count` events of a collection are not sent to open watches (a watch that missed them). */
  dropEvents(collection: string, count?: number): void;
  /** Runs `action` once, just before the first request `match` accepts is handled. */
  beforeRequest(match: (method: string, path: string) => boolean, action: () => void): void;
  /** While cut off, every request from this bearer token answers 503 (a replica partitioned from the API). */
  cutOff(who: string, off: boolean): void;
  close(): Promise<void>;
}

/** `/api/v1/services` style collection key of an object. */
function collectionOf(obj: { apiVersion?: string; kind?: string }): string {
  const kind = obj.kind!.toLowerCase();
  const plural = /[^aeiou]y$/.test(kind) ? `${kind.slice(0, -1)}ies` : `${kind}${kind.endsWith('s') ? 'es' : 's'}`;
  return obj.apiVersion!.includes('/') ? `/apis/${obj.apiVersion}/${plural}` : `/api/${obj.apiVersion}/${plural}`;
}

const clone = <T>(v: T): T => structuredClone(v);

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let rv = 1;
  const store = new Map<string, Map<string, Obj>>();
  const kinds = new Map<string, { apiVersion: string; kind: string }>();
  const history: Event[] = [];
  const watchers = new Set<{ collection: string; res: ServerResponse; bookmarks: boolean; matches: (o: Obj) => boolean }>();
  const requests: string[] = [];
  const calls: Call[] = [];
  const drops = new Map<string, number>();
  const hooks: { match: (method: string, path: string) => boolean; action: () => void }[] = [];
  const cut = new Set<string>();
  const issuedTokens: IssuedToken[] = [];
  const signingKey = randomBytes(32);
  const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  /** Server-side apply ownership: object key → field manager → the leaf paths it applied. */
  const managed = new Map<string, Map<string, Map<string, string>>>();

  const coll = (c: string) => {
    let m = store.get(c);
    if (!m) store.set(c, (m = new Map()));
    return m;
  };
  const emit = (collection: string, type: Event['type'], object: Obj) => {
    const ev: Event = { rv: Number(object.metadata.resourceVersion), type, collection, object: clone(object) };
    history.push(ev);
    const dropping = drops.get(collection) ?? 0;
    if (dropping > 0) {
      drops.set(collection, dropping - 1);
      return;
    }
    for (const w of watchers) if (w.collection === collection && w.matches(ev.object)) w.res.write(JSON.stringify({ type, object: ev.object }) + '\n');
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
      managed.delete(`${collection}|${prev.metadata.namespace ?? ''}/${prev.metadata.name}`);
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
    managed.delete(`${collection}|${prev.metadata.namespace ?? ''}/${prev.metadata.name}`);
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

  /** Leaf paths of an applied config (maps walked key by key, lists and scalars are leaves) → JSON value. */
  const leaves = (v: any, prefix = '', out = new Map<string, string>()): Map<string, string> => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, c] of Object.entries(v)) leaves(c, `${prefix}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
    } else out.set(prefix, JSON.stringify(v));
    return out;
  };
  const segments = (path: string) => path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const readAt = (o: any, path: string) => segments(path).reduce((n, k) => (n && typeof n === 'object' ? n[k] : undefined), o);
  const writeAt = (o: any, path: string, value: unknown) => {
    const keys = segments(path);
    let n = o;
    for (const k of keys.slice(0, -1)) n = n[k] && typeof n[k] === 'object' && !Array.isArray(n[k]) ? n[k] : (n[k] = {});
    n[keys.at(-1)!] = value;
  };
  const removeAt = (o: any, path: string) => {
    const keys = segments(path);
    const parents: any[] = [o];
    for (const k of keys.slice(0, -1)) parents.push(parents.at(-1)?.[k]);
    if (!parents.at(-1) || typeof parents.at(-1) !== 'object') return;
    delete parents.at(-1)[keys.at(-1)!];
    // Maps left empty by the removal go too, as the API server prunes them.
    for (let i = keys.length - 1; i > 0; i--) if (parents[i] && Object.keys(parents[i]).length === 0) delete parents[i - 1][keys[i - 1]!];
  };
  const IDENTITY = new Set(['/apiVersion', '/kind', '/metadata/name', '/metadata/namespace']);
  /** Server-side apply of `config` by `manager`; a 409 body when another manager's field would change. */
  const apply = (collection: string, key: string, prev: Obj | undefined, config: Obj, manager: string, force: boolean): { obj?: Obj; conflict?: string[] } => {
    const owners = managed.get(`${collection}|${key}`) ?? new Map<string, Map<string, string>>();
    const fields = new Map([...leaves(config)].filter(([p]) => !IDENTITY.has(p) && p !== '/metadata/resourceVersion' && !p.startsWith('/status')));
    const conflicts: string[] = [];
    for (const [path, value] of fields) {
      for (const [other, owned] of owners) {
        if (other !== manager && owned.has(path) && prev && JSON.stringify(readAt(prev, path)) !== value) conflicts.push(`${path} (${other})`);
      }
    }
    if (conflicts.length > 0 && !force) return { conflict: conflicts };
    const next: Obj = prev ? clone(prev) : { apiVersion: config.apiVersion, kind: config.kind, metadata: { name: config.metadata.name, namespace: config.metadata.namespace } };
    for (const path of owners.get(manager)?.keys() ?? []) {
      if (fields.has(path)) continue;
      if (![...owners].some(([other, owned]) => other !== manager && owned.has(path))) removeAt(next, path);
    }
    for (const [path, value] of fields) writeAt(next, path, JSON.parse(value));
    for (const [other, owned] of owners) if (other !== manager) for (const path of fields.keys()) if (force) owned.delete(path);
    owners.set(manager, fields);
    managed.set(`${collection}|${key}`, owners);
    return { obj: next };
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

  /** `fieldSelector` (metadata.name, metadata.namespace; = and ==) and equality `labelSelector`; undefined when unsupported. */
  const selector = (url: URL): ((o: Obj) => boolean) | undefined => {
    const tests: ((o: Obj) => boolean)[] = [];
    for (const term of (url.searchParams.get('fieldSelector') ?? '').split(',').filter(Boolean)) {
      const m = /^(metadata\.name|metadata\.namespace)(==?|!=)(.*)$/.exec(term);
      if (!m) return undefined;
      const [, field, op, value] = m;
      const key = field === 'metadata.name' ? 'name' : 'namespace';
      tests.push((o) => (o.metadata[key] === value) === (op !== '!='));
    }
    for (const term of (url.searchParams.get('labelSelector') ?? '').split(',').map((t) => t.trim()).filter(Boolean)) {
      const m = /^([^=!]+)(==?|!=)(.*)$/.exec(term);
      if (!m) return undefined;
      const [, key, op, value] = m;
      tests.push((o) => (o.metadata.labels?.[key!] === value) === (op !== '!='));
    }
    return (o) => tests.every((t) => t(o));
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const auth = req.headers.authorization;
    const call: Call = { method: req.method ?? '', path: url.pathname, query: url.searchParams, who: auth?.startsWith('Bearer ') ? auth.slice(7) : undefined, status: 0 };
    calls.push(call);
    const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => ServerResponse;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      call.status = status;
      return writeHead(status, ...rest);
    }) as typeof res.writeHead;
    if (call.who && cut.has(call.who)) return send(res, 503, { kind: 'Status', code: 503, reason: 'ServiceUnavailable' });
    const hook = hooks.findIndex((h) => h.match(call.method, call.path));
    if (hook >= 0) hooks.splice(hook, 1)[0]!.action();
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
      const select = selector(url);
      if (!select) return send(res, 400, { kind: 'Status', code: 400, reason: 'BadRequest', message: 'selector not supported by the fake' });
      const matches = (o: Obj) => (!namespace || o.metadata.namespace === namespace) && select(o);
      if (url.searchParams.get('watch') === 'true') {
        const from = Number(url.searchParams.get('resourceVersion') ?? 0);
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        const w = { collection, res, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true', matches };
        for (const ev of history) if (ev.collection === collection && ev.rv > from && matches(ev.object)) res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
        if (w.bookmarks) res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: kinds.get(collection)?.kind ?? 'Unknown', apiVersion: kinds.get(collection)?.apiVersion ?? 'v1', metadata: { resourceVersion: String(rv) } } }) + '\n');
        watchers.add(w);
        req.on('close', () => watchers.delete(w));
        return;
      }
      const items = [...coll(collection).values()].filter(matches).map(clone);
      return send(res, 200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
    }
    const prev = coll(collection).get(key);
    if (req.method === 'POST' && collection === '/api/v1/serviceaccounts' && name && sub === 'token') {
      // TokenRequest: a subresource of the account; the answer is not stored.
      // @see https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/
      if (!prev) return send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: `serviceaccounts "${name}" not found` });
      const input = (await body(req)) as { apiVersion?: string; kind?: string; spec?: { audiences?: unknown; expirationSeconds?: unknown } } | undefined;
      if (input?.kind !== 'TokenRequest' || input.apiVersion !== 'authentication.k8s.io/v1') return send(res, 400, { kind: 'Status', code: 400, reason: 'BadRequest', message: 'the body must be an authentication.k8s.io/v1 TokenRequest' });
      const seconds = input.spec?.expirationSeconds ?? 3600;
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 600 || seconds > 2 ** 32) {
        return send(res, 422, { kind: 'Status', code: 422, reason: 'Invalid', message: 'spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes or greater than 2^32 seconds' });
      }
      const audiences = Array.isArray(input.spec?.audiences) && input.spec.audiences.length > 0 ? (input.spec.audiences as string[]) : [`http://${req.headers.host ?? '127.0.0.1'}`];
      const iat = Math.floor(Date.now() / 1000);
      const claims = { iss: audiences[0], aud: audiences, sub: `system:serviceaccount:${namespace}:${name}`, iat, nbf: iat, exp: iat + seconds, 'kubernetes.io': { namespace, serviceaccount: { name, uid: prev.metadata.uid } } };
      const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
      const token = `${unsigned}.${createHmac('sha256', signingKey).update(unsigned).digest('base64url')}`;
      const expirationTimestamp = new Date((iat + seconds) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      issuedTokens.push({ namespace: namespace!, serviceAccount: name, uid: prev.metadata.uid, audiences, expirationSeconds: seconds, expirationTimestamp, token });
      return send(res, 201, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        metadata: { name, namespace, creationTimestamp: null },
        spec: { audiences, expirationSeconds: seconds, boundObjectRef: null },
        status: { token, expirationTimestamp },
      });
    }
    if (req.method === 'GET') return prev ? send(res, 200, prev) : send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    if (req.method === 'POST' && !name) {
      const obj = (await body(req)) as Obj;
      obj.metadata.namespace ??= namespace;
      if (coll(collection).has(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`)) return send(res, 409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
      return send(res, 201, write(collection, undefined, obj, false));
    }
    if (req.method === 'PATCH' && req.headers['content-type'] === 'application/apply-patch+yaml') {
      const manager = url.searchParams.get('fieldManager');
      if (!manager) return send(res, 400, { kind: 'Status', code: 400, reason: 'BadRequest', message: 'fieldManager is required for apply patch' });
      const config = (await body(req)) as Obj;
      if (config?.metadata?.name !== name || !config.apiVersion || !config.kind) return send(res, 400, { kind: 'Status', code: 400, reason: 'BadRequest', message: 'apply needs apiVersion, kind and the name of the path' });
      if (prev && config.metadata.resourceVersion && config.metadata.resourceVersion !== prev.metadata.resourceVersion) return send(res, 409, { kind: 'Status', code: 409, reason: 'Conflict' });
      if (!prev && sub === 'status') return send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
      config.metadata.namespace ??= namespace;
      const out = apply(collection, key, prev, config, manager, url.searchParams.get('force') === 'true');
      if (out.conflict) return send(res, 409, { kind: 'Status', code: 409, reason: 'Conflict', message: `Apply failed with ${out.conflict.length} conflict(s): ${out.conflict.join(', ')}` });
      return send(res, prev ? 200 : 201, write(collection, prev, out.obj!, sub === 'status'));
    }
    if (!prev) return send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    if (req.method === 'DELETE') {
      const options = await body(req);
      if (options?.preconditions?.resourceVersion && options.preconditions.resourceVersion !== prev.metadata.resourceVersion) {
        return send(res, 409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'precondition failed: resourceVersion' });
      }
      if (options?.preconditions?.uid && options.preconditions.uid !== prev.metadata.uid) return send(res, 409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'precondition failed: uid' });
      del(collection, prev);
      return send(res, 200, { kind: 'Status', status: 'Success' });
    }
    if (req.method === 'PUT' || req.method === 'PATCH') {
      const input = await body(req);
      // A resourceVersion in an update or a patch is a precondition, as on a real API server.
      if (input?.metadata?.resourceVersion && input.metadata.resourceVersion !== prev.metadata.resourceVersion) {
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
    calls,
    issuedTokens,
    dropEvents(collection, count = 1) {
      drops.set(collection, (drops.get(collection) ?? 0) + count);
    },
    beforeRequest(match, action) {
      hooks.push({ match, action });
    },
    cutOff(who, off) {
      if (off) cut.add(who);
      else cut.delete(who);
    },
    put(obj) {
      const collection = collectionOf(obj);
      const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
      return write(collection, coll(collection).get(key), clone(obj), false);
    },
    get: (collection, namespace, name) => coll(collection).get(`${namespace}/${name}`),
    setStatus(collection, namespace, name, status) {
      const prev = coll(collection).get(`${namespace}/${name}`);
      if (!prev) throw new Error(`no ${collection} ${namespace}/${name}`);
      return write(collection, prev, { ...clone(prev), status: clone(status) }, true);
    },
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
