// The Kubernetes REST calls the RemoteSecret operator makes, with the pod's service account: read
// and list RemoteSecrets, write their status, and get, create, update, merge-patch and delete the
// Secrets they name, each one call of shared/kube (the pod's service-account token, read on every
// call, and the cluster's CA).
// @see https://kubernetes.io/docs/reference/using-api/api-concepts/
import { createKubeCall, isNotFound, type KubeAccess } from '#shared/kube/rest';
import type { RemoteSecret, RemoteSecretStatus, Secret } from './resource.js';

export interface KubeApi {
  getRemoteSecret(namespace: string, name: string): Promise<RemoteSecret | undefined>;
  listRemoteSecrets(): Promise<RemoteSecret[]>;
  /** Writes the status subresource; the resourceVersion is a precondition. */
  writeStatus(r: RemoteSecret, status: RemoteSecretStatus): Promise<void>;
  getSecret(namespace: string, name: string): Promise<Secret | undefined>;
  createSecret(secret: Secret): Promise<void>;
  /** PUT: the metadata.resourceVersion it carries is a precondition. */
  replaceSecret(secret: Secret): Promise<void>;
  mergePatchSecret(namespace: string, name: string, patch: unknown): Promise<void>;
  deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void>;
}

const RS = '/apis/vault.zenokube.io/v1alpha1';
const seg = encodeURIComponent;

export function createKubeApi(access: KubeAccess): KubeApi {
  const call = createKubeCall(access);
  const orAbsent = <T>(p: Promise<T>): Promise<T | undefined> => p.catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
  const rsPath = (ns: string, name: string) => `${RS}/namespaces/${seg(ns)}/remotesecrets/${seg(name)}`;
  const secretPath = (ns: string, name: string) => `/api/v1/namespaces/${seg(ns)}/secrets/${seg(name)}`;
  return {
    getRemoteSecret: (ns, name) => orAbsent(call<RemoteSecret>('GET', rsPath(ns, name))),
    listRemoteSecrets: async () => (await call<{ items: RemoteSecret[] }>('GET', `${RS}/remotesecrets`)).items,
    writeStatus: async (r, status) =>
      void (await call('PATCH', `${rsPath(r.metadata.namespace!, r.metadata.name)}/status`, { metadata: { resourceVersion: r.metadata.resourceVersion }, status }, 'application/merge-patch+json')),
    getSecret: (ns, name) => orAbsent(call<Secret>('GET', secretPath(ns, name))),
    createSecret: async (s) => void (await call('POST', `/api/v1/namespaces/${seg(s.metadata.namespace!)}/secrets`, s)),
    replaceSecret: async (s) => void (await call('PUT', secretPath(s.metadata.namespace!, s.metadata.name), s)),
    mergePatchSecret: async (ns, name, patch) => void (await call('PATCH', secretPath(ns, name), patch, 'application/merge-patch+json')),
    deleteSecret: async (ns, name, resourceVersion) =>
      void (await orAbsent(call('DELETE', secretPath(ns, name), { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion } }))),
  };
}
