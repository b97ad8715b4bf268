// The Kubernetes REST calls the reconciler makes: get, list by label, server-side apply, create,
// delete with preconditions, merge patches (finalizers, labels) and status writes. A bearer token
// and the cluster's CA, as a pod's service account has them; the token file is read again on each
// call, since projected service-account tokens are rotated.
// @see https://kubernetes.io/docs/reference/using-api/server-side-apply/
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Ref } from '#functions/scope/core/actions';
import type { KubeObject } from '#functions/scope/core/objects';

class KubeError extends Error {
  readonly code = 'kube_api_error';
  readonly status: number;
  constructor(status: number, what: string, body: string) {
    super(`Kubernetes API ${status} for ${what}: ${body.slice(0, 300)}`);
    this.status = status;
  }
}

const isNotFound = (err: unknown) => err instanceof KubeError && err.status === 404;
export const isConflict = (err: unknown) => err instanceof KubeError && err.status === 409;

/** The resource (plural) of each kind we read or write, and whether it is cluster-scoped. */
const RESOURCES: Readonly<Record<string, { plural: string; cluster?: true }>> = {
  Namespace: { plural: 'namespaces', cluster: true },
  ServiceAccount: { plural: 'serviceaccounts' },
  RoleBinding: { plural: 'rolebindings' },
  Secret: { plural: 'secrets' },
  DatabaseRole: { plural: 'databaseroles' },
  Database: { plural: 'databases' },
  HTTPRoute: { plural: 'httproutes' },
  ServiceMonitor: { plural: 'servicemonitors' },
  RemoteSecret: { plural: 'remotesecrets' },
  ZenoScope: { plural: 'zenoscopes', cluster: true },
  ZenoApp: { plural: 'zenoapps' },
  Lease: { plural: 'leases' },
};

/** `/api/v1/namespaces/ns/secrets/name` style path of a reference (without a name: its collection). */
export function pathOf(ref: Omit<Ref, 'name'> & { name?: string }): string {
  const r = RESOURCES[ref.kind];
  if (!r) throw new TypeError(`no resource known for kind ${ref.kind}`);
  const group = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const ns = !r.cluster && ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  return `${group}${ns}/${r.plural}${ref.name ? `/${encodeURIComponent(ref.name)}` : ''}`;
}

interface KubeAccess {
  /** The API server, e.g. https://kubernetes.default.svc. */
  server: string;
  /** A bearer token, or the file that holds one (read on every call). */
  token?: string;
  tokenFile?: string;
  /** PEM of the CA that signed the API server's certificate. */
  ca?: string;
}

export interface KubeApi {
  get(ref: Ref): Promise<KubeObject | undefined>;
  list(ref: Omit<Ref, 'name'>, labelSelector: string): Promise<KubeObject[]>;
  /** Server-side apply as `fieldManager`. */
  apply(object: KubeObject, fieldManager: string, force: boolean): Promise<KubeObject>;
  /** Creates; false when it already exists. */
  create(object: KubeObject): Promise<boolean>;
  /** Deletes; with `resourceVersion`, only that version. False when already gone. */
  remove(ref: Ref, resourceVersion?: string): Promise<boolean>;
  /** JSON merge patch (RFC 7386); a metadata.resourceVersion in it is a precondition. */
  mergePatch(ref: Ref, patch: unknown, subresource?: 'status'): Promise<KubeObject>;
}

export function createKubeApi(access: KubeAccess): KubeApi {
  const base = new URL(access.server);
  const https = base.protocol === 'https:';
  const call = async <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> => {
    const token = access.tokenFile ? (await readFile(access.tokenFile, 'utf8')).trim() : access.token;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    if (payload) Object.assign(headers, { 'content-type': contentType, 'content-length': payload.length });
    const opts = { method, host: base.hostname, port: base.port || (https ? 443 : 80), path, headers, ...(https && access.ca ? { ca: access.ca } : {}) };
    return new Promise<T>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 300) return reject(new KubeError(res.statusCode ?? 500, `${method} ${path}`, text));
          try {
            resolve((text ? JSON.parse(text) : undefined) as T);
          } catch (err) {
            reject(err as Error);
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`Kubernetes API timeout for ${method} ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
  const absent = <T>(p: Promise<T>, fallback: T): Promise<T> => p.catch((err: unknown) => (isNotFound(err) ? fallback : Promise.reject(err as Error)));
  return {
    get: (ref) => absent(call<KubeObject | undefined>('GET', pathOf(ref)), undefined),
    list: async (ref, labelSelector) => (await call<{ items: KubeObject[] }>('GET', `${pathOf(ref)}?${new URLSearchParams({ labelSelector }).toString()}`)).items.map((o) => ({ ...o, apiVersion: ref.apiVersion, kind: ref.kind })),
    apply: (object, fieldManager, force) =>
      call('PATCH', `${pathOf({ ...object, namespace: object.metadata.namespace, name: object.metadata.name })}?${new URLSearchParams({ fieldManager, ...(force ? { force: 'true' } : {}) }).toString()}`, object, 'application/apply-patch+yaml'),
    create: (object) =>
      call('POST', pathOf({ ...object, namespace: object.metadata.namespace }), object).then(
        () => true,
        (err: unknown) => (isConflict(err) ? false : Promise.reject(err as Error)),
      ),
    remove: (ref, resourceVersion) =>
      absent(
        call('DELETE', pathOf(ref), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', ...(resourceVersion ? { preconditions: { resourceVersion } } : {}) }).then(() => true),
        false,
      ),
    mergePatch: (ref, patch, subresource) => call('PATCH', `${pathOf(ref)}${subresource ? `/${subresource}` : ''}`, patch, 'application/merge-patch+json'),
  };
}
