// One upstream exchange with retries (GEP-1731), backend timeouts and circuit accounting.
// @see https://gateway-api.sigs.k8s.io/geps/gep-1731/
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteTimeouts
import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { ProxyContext } from './context.js';
import type { Exchange } from './forward.js';
import { localReply } from './local-reply.js';
import { applyHeaderOps, endToEnd } from './headers.js';
import { endpointKey, pickEndpoint } from './balance.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Upstream statuses that count against an endpoint's circuit. */
const FAILING = new Set([502, 503, 504]);

/** A request without a body can be replayed, so it can be retried without buffering. */
function replayable(ex: Exchange): boolean {
  const h = ex.req.headers;
  const len = h['content-length'];
  return IDEMPOTENT.has(ex.rec.method) && h['transfer-encoding'] === undefined && (len === undefined || len === '0');
}

function classify(err: NodeJS.ErrnoException): { status: number; code: 'backend_unavailable' | 'upstream_error' | 'upstream_timeout' } {
  if (err.code === 'ETIMEDOUT' || err.code === 'ZENO_BACKEND_TIMEOUT') return { status: 504, code: 'upstream_timeout' };
  if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'ENETUNREACH') {
    return { status: 503, code: 'backend_unavailable' };
  }
  return { status: 502, code: 'upstream_error' };
}

class BackendTimeout extends Error {
  readonly code = 'ZENO_BACKEND_TIMEOUT';
}

/** Sends the exchange upstream; retries bodiless idempotent requests per the rule's retry policy. */
export function sendUpstream(ctx: ProxyContext, ex: Exchange): void {
  const { req, res, rule } = ex;
  const retry = rule.retry;
  const canRetry = !!retry && retry.attempts > 0 && replayable(ex);
  const attemptsLeft = { n: canRetry ? retry!.attempts : 0 };
  let current: ClientRequest | undefined;
  res.once('close', () => {
    // Client went away (or we finished): stop the upstream work.
    if (current && !res.writableFinished) current.destroy();
  });
  if (!canRetry && !replayable(ex)) {
    // Client aborts mid-upload: the upstream request is cut too.
    req.once('aborted', () => current?.destroy());
  } else req.resume();

  const attempt = (): void => {
    if (res.destroyed || res.headersSent) return;
    ex.rec.attempts++;
    const ep = ex.endpoint;
    const key = endpointKey(ep);
    const up = request({ host: ep.host, port: ep.port, method: ex.rec.method, path: ex.path, headers: ex.headers, agent: ctx.agent, setHost: false });
    current = up;
    let timer: NodeJS.Timeout | undefined;
    if (rule.backendTimeoutMs) timer = setTimeout(() => up.destroy(new BackendTimeout('backend request timed out')), rule.backendTimeoutMs);
    else up.setTimeout(ctx.limits.upstreamIdleMs, () => up.destroy(new BackendTimeout('upstream idle')));

    const retryLater = (): boolean => {
      if (attemptsLeft.n <= 0) return false;
      attemptsLeft.n--;
      const next = pickEndpoint(ex.backend.endpoints!, ctx.breakers);
      if (!next) return false;
      ex.endpoint = next;
      const backoff = retry!.backoffMs;
      if (backoff > 0) setTimeout(attempt, backoff).unref();
      else setImmediate(attempt);
      return true;
    };

    up.on('response', (ures: IncomingMessage) => {
      const status = ures.statusCode ?? 502;
      if (FAILING.has(status)) ctx.breakers.failure(key);
      else ctx.breakers.success(key);
      if (retry && retry.codes.has(status) && canRetry && retryLater()) {
        clearTimeout(timer);
        ures.resume();
        return;
      }
      let headers = endToEnd(ures.rawHeaders);
      headers = applyHeaderOps(headers, rule.responseHeaders);
      headers = applyHeaderOps(headers, ex.backend.responseHeaders);
      if (ex.responseExtra) headers.push(...ex.responseExtra);
      if (res.destroyed) {
        ures.destroy();
        return;
      }
      res.writeHead(status, ures.statusMessage, headers);
      ures.pipe(res);
      ures.on('end', () => clearTimeout(timer));
      // Upstream resets mid-body: the client's response is cut short, never completed with garbage.
      ures.on('aborted', () => res.destroy());
      ures.on('error', () => res.destroy());
      ures.on('close', () => {
        clearTimeout(timer);
        if (!ures.complete) res.destroy();
      });
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (res.destroyed && !(err instanceof BackendTimeout)) return;
      const c = classify(err);
      ex.rec.upstreamError = err.code ?? 'error';
      if (c.code !== 'upstream_timeout' || !res.headersSent) ctx.breakers.failure(key);
      ctx.observer?.upstreamError(ex.backend.key, ex.rec.upstreamError);
      if (!res.headersSent && c.code !== 'upstream_timeout' && canRetry && retryLater()) return;
      localReply(res, c.status, c.code);
    });
    if (canRetry || replayable(ex)) up.end();
    else req.pipe(up);
  };
  attempt();
}
