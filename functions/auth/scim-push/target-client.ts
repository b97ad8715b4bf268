// A SCIM 2.0 client for one downstream target (RFC 7644 §3): bearer-authenticated JSON calls with
// a deadline, whose failures carry the status so the push can tell "gone" from "try again".
const SCIM_JSON = 'application/scim+json';
const TIMEOUT_MS = 15_000;

export class TargetError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'TargetError';
    this.status = status;
  }
}

export interface TargetClient {
  /** Resolves to the JSON body (undefined for 204), or throws TargetError. */
  call(method: string, path: string, body?: unknown): Promise<Record<string, unknown> | undefined>;
}

export function createTargetClient(baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): TargetClient {
  return {
    async call(method, path, body) {
      let res: Response;
      try {
        res = await fetchImpl(`${baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, accept: SCIM_JSON, ...(body !== undefined ? { 'content-type': SCIM_JSON } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (err) {
        throw new TargetError(`${method} ${path}: ${(err as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable'}`);
      }
      const text = await res.text();
      if (!res.ok) {
        // The target's own SCIM error detail helps the admin; it is the target's text, not ours.
        let detail = '';
        try {
          detail = String((JSON.parse(text) as { detail?: unknown }).detail ?? '').slice(0, 200);
        } catch {
          /* not JSON */
        }
        throw new TargetError(`${method} ${path}: ${res.status}${detail ? ` ${detail}` : ''}`, res.status);
      }
      if (!text) return undefined;
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new TargetError(`${method} ${path}: the answer is not JSON`, res.status);
      }
    },
  };
}
