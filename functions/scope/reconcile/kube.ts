// The Kubernetes REST calls the reconciler makes: get, list by label, server-side apply, create,
// delete with preconditions, merge patches (finalizers, labels), status writes and TokenRequests, each one call of
// shared/kube (the pod's service-account token and the cluster's CA).
// @see https://kubernetes.io/docs/reference/using-api/server-side-apply/
import type { Ref } from '#functions/scope/core/actions';
import type { KubeObject } from '#functions/scope/core/objects';
import { createKubeCall, isConflict, isNotFound, type KubeAccess } from '#shared/kube/rest';

/** The resource (plural) of each kind we read or write, and whether it is cluster-scoped. */
const RESOURCES: Readonly<Record<string, { plural: string; cluster?: true }>> = {
  Namespace: { plural: 'namespaces', cluster: true },
  ServiceAccount: { plural: 'serviceaccounts' },
  Role: { plural: 'roles' },
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
  /** A token of a ServiceAccount from the TokenRequest API, for the API server's own audience; absent without an API server (local mode). */
  requestToken?(namespace: string, serviceAccount: string, expirationSeconds: number): Promise<{ token: string; expirationTimestamp: string }>;
}

export function createKubeApi(access: KubeAccess): KubeApi {
  const call = createKubeCall(access);
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
    requestToken: async (namespace, serviceAccount, expirationSeconds) => {
      const path = `${pathOf({ apiVersion: 'v1', kind: 'ServiceAccount', namespace, name: serviceAccount })}/token`;
      const out = await call<{ status?: { token?: string; expirationTimestamp?: string } }>('POST', path, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } });
      if (!out?.status?.token || !out.status.expirationTimestamp) throw new Error(`the TokenRequest for ${namespace}/${serviceAccount} was answered without a token`);
      return { token: out.status.token, expirationTimestamp: out.status.expirationTimestamp };
    },
  };
}
