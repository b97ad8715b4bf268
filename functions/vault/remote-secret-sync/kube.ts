// The Kubernetes REST calls the RemoteSecret operator makes, with the pod's service account: read
// and list RemoteSecrets, write their status, and get, create, update, merge-patch and delete the
// Secrets they name. The token file is read on every call (projected tokens rotate).
// @see https://kubernetes.io/docs/reference/using-api/api-concepts/
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RemoteSecret, RemoteSecretStatus, Secret } from './resource.js';

class KubeError extends Error {
  readonly code = 'kube_api_error';
  readonly status: number;
  constructor(status: number, what: string, body: string) {
    super(`Kubernetes API ${status} for ${what}: ${body.slice(0, 300)}`);
    this.status = status;
  }
}

export const isConflict = (err: unknown): boolean => err instanceof KubeError && err.status === 409;

interface KubeAccess {
  server: string;
  token?: string;
  tokenFile?: string;
  ca?: string;
}

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
  const orAbsent = <T>(p: Promise<T>): Promise<T | undefined> => p.catch((err: unknown) => (err instanceof KubeError && err.status === 404 ? undefined : Promise.reject(err as Error)));
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
