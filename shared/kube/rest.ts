// One JSON call to the Kubernetes API server, as the operators (ZenoScope's reconciler, ZenoVault's
// RemoteSecret operator) make them with a pod's service account: a bearer token (its file read on
// every call, since projected service-account tokens are rotated), the cluster's CA, a deadline,
// and a non-2xx answer as a KubeError that carries the status.
// @see https://kubernetes.io/docs/reference/using-api/api-concepts/
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

class KubeError extends Error {
  readonly code = 'kube_api_error';
  readonly status: number;
  constructor(status: number, what: string, body: string) {
    super(`Kubernetes API ${status} for ${what}: ${body.slice(0, 300)}`);
    this.name = 'KubeError';
    this.status = status;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeError && err.status === 409;

export interface KubeAccess {
  /** The API server, e.g. https://kubernetes.default.svc. */
  server: string;
  /** A bearer token, or the file that holds one (read on every call). */
  token?: string;
  tokenFile?: string;
  /** PEM of the CA that signed the API server's certificate. */
  ca?: string;
}

/** Sends `body` as JSON (or as `contentType`: a patch type) and resolves with the parsed answer. */
type KubeCall = <T>(method: string, path: string, body?: unknown, contentType?: string) => Promise<T>;

/** Longest wait for the API server's whole answer. */
const TIMEOUT_MS = 30_000;

export function createKubeCall(access: KubeAccess): KubeCall {
  const base = new URL(access.server);
  const https = base.protocol === 'https:';
  return async <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> => {
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
      req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`Kubernetes API timeout for ${method} ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
}
