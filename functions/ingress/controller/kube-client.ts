// Minimal Kubernetes REST calls the controller makes itself (lists for informers, status and
// finalizer patches), authenticated by the KubeConfig like client-node's own clients.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

class KubeApiError extends Error {
  readonly code = 'kube_api_error';
  readonly status: number;
  readonly path: string;
  constructor(status: number, path: string, body: string) {
    super(`Kubernetes API ${status} for ${path}: ${body.slice(0, 200)}`);
    this.status = status;
    this.path = path;
  }
}

/** 409 Conflict: the object changed since the resourceVersion the write was based on. */
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;
export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;

export interface KubeClient {
  /** GET; `query` is appended as URL search parameters (e.g. a fieldSelector). */
  get<T>(path: string, query?: Record<string, string>): Promise<T>;
  /**
   * JSON merge patch (RFC 7386). A `metadata.resourceVersion` in the patch makes the API server
   * apply it only to that version of the object (409 Conflict otherwise).
   */
  mergePatch<T>(path: string, patch: unknown): Promise<T>;
}

export function createKubeClient(kc: KubeConfig): KubeClient {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new TypeError('the kubeconfig has no current cluster');
  const base = new URL(server);
  const call = async <T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> => {
    const opts: RequestOptions = { method, host: base.hostname, port: base.port || (base.protocol === 'https:' ? 443 : 80), path, headers: { accept: 'application/json' } };
    await kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) Object.assign(opts.headers!, { 'content-type': contentType ?? 'application/json', 'content-length': payload.length });
    return new Promise<T>((resolve, reject) => {
      const req = (base.protocol === 'https:' ? httpsRequest : httpRequest)(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 300) return reject(new KubeApiError(res.statusCode ?? 500, path, text));
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`Kubernetes API timeout for ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
  return {
    get: (path, query) => call('GET', query && Object.keys(query).length > 0 ? `${path}?${new URLSearchParams(query).toString()}` : path),
    mergePatch: (path, patch) => call('PATCH', path, patch, 'application/merge-patch+json'),
  };
}
