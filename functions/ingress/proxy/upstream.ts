// One upstream exchange through undici's dispatcher (no per-request stream objects on the client
// side), with retries (GEP-1731), backend timeouts and circuit accounting. Bodies stream both
// ways with backpressure: the client request is handed to undici as a stream; response chunks
// are written as they come and the upstream is paused while the client socket is full.
// @see https://gateway-api.sigs.k8s.io/geps/gep-1731/
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteTimeouts
import type { ProxyContext } from './context.js';
import type { Exchange } from './forward.js';
import { localReply } from './local-reply.js';
import { applyHeaderOps, responseHeaders } from './headers.js';
import { endpointKey, pickEndpoint } from './balance.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Upstream statuses that count against an endpoint's circuit. */
const FAILING = new Set([502, 503, 504]);
const UNAVAILABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ZENO_BACKEND_TIMEOUT']);

/** A request without a body can be replayed, so it can be retried without buffering. */
function bodiless(ex: Exchange): boolean {
  const h = ex.req.headers;
  const len = h['content-length'];
  return h['transfer-encoding'] === undefined && (len === undefined || len === '0');
}

function classify(code: string): { status: number; code: 'backend_unavailable' | 'upstream_error' | 'upstream_timeout' } {
  if (TIMEOUT.has(code)) return { status: 504, code: 'upstream_timeout' };
  if (UNAVAILABLE.has(code)) return { status: 503, code: 'backend_unavailable' };
  return { status: 502, code: 'upstream_error' };
}

class BackendTimeout extends Error {
  readonly code = 'ZENO_BACKEND_TIMEOUT';
}

/** Sends the exchange upstream; retries bodiless idempotent requests per the rule's retry policy. */
export function sendUpstream(ctx: ProxyContext, ex: Exchange): void {
  const { req, res, rule } = ex;
  const retry = rule.retry;
  const noBody = bodiless(ex);
  const canRetry = !!retry && retry.attempts > 0 && noBody && IDEMPOTENT.has(ex.rec.method);
  let attemptsLeft = canRetry ? retry!.attempts : 0;
  if (noBody) req.resume();

  const attempt = (): void => {
    if (res.destroyed || res.headersSent) return;
    ex.rec.attempts++;
    const ep = ex.endpoint;
    const key = endpointKey(ep);
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      done = true;
      if (timer) clearTimeout(timer);
    };
    const retryLater = (): boolean => {
      if (attemptsLeft <= 0) return false;
      attemptsLeft--;
      const next = pickEndpoint(ex.backend.endpoints!, ctx.breakers);
      if (!next) return false;
      ex.endpoint = next;
      if (retry!.backoffMs > 0) setTimeout(attempt, retry!.backoffMs).unref();
      else setImmediate(attempt);
      return true;
    };
    let skipping = false;
    ctx.pools.get(ep.host, ep.port).dispatch(
      { origin: undefined, path: ex.path, method: ex.rec.method, headers: ex.headers, body: noBody ? null : req, headersTimeout: ctx.limits.upstreamIdleMs, bodyTimeout: ctx.limits.upstreamIdleMs },
      {
        onConnect(abort) {
          ex.life.abort = abort;
          if (rule.backendTimeoutMs) timer = setTimeout(() => abort(new BackendTimeout('backend request timed out')), rule.backendTimeoutMs);
        },
        onHeaders(status, raw, resume, statusText) {
          if (status < 200) return true; // 1xx informational: the final response follows
          if (FAILING.has(status)) ctx.breakers.failure(key);
          else ctx.breakers.success(key);
          if (canRetry && retry!.codes.has(status) && retryLater()) {
            skipping = true;
            return true;
          }
          if (res.destroyed) return false;
          let headers = responseHeaders(raw);
          headers = applyHeaderOps(headers, rule.responseHeaders);
          headers = applyHeaderOps(headers, ex.backend.responseHeaders);
          if (ex.responseExtra) for (const h of ex.responseExtra) headers.push(h);
          res.writeHead(status, statusText || undefined, headers);
          ex.resume = resume;
          return true;
        },
        onData(chunk) {
          if (skipping) return true;
          if (res.write(chunk)) return true;
          res.once('drain', ex.resume!);
          return false;
        },
        onComplete() {
          finish();
          if (!skipping) res.end();
        },
        onError(err) {
          const wasDone = done;
          finish();
          if (skipping || wasDone) return;
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          if (res.headersSent) {
            // Upstream reset mid-body: the client's response is cut short, never completed with garbage.
            ex.rec.upstreamError = code;
            ctx.observer?.upstreamError(ex.backend.key, code);
            res.destroy();
            return;
          }
          if (res.destroyed) return;
          const c = classify(code);
          ex.rec.upstreamError = code;
          ctx.breakers.failure(key);
          ctx.observer?.upstreamError(ex.backend.key, code);
          if (c.code !== 'upstream_timeout' && canRetry && retryLater()) return;
          localReply(res, c.status, c.code);
        },
      },
    );
  };
  attempt();
}
