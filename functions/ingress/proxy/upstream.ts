// One upstream exchange through the endpoint's pool (./upstream-pool.ts), with retries (GEP-1731),
// backend timeouts and circuit accounting: an endpoint is blamed for what it did (refused, reset,
// timed out, answered 502-504), never for a client that broke its own request off. Bodies stream
// both ways with backpressure: response chunks are written as they come, and the upstream is
// paused while the client socket is full (the send deadline then runs).
// @see https://gateway-api.sigs.k8s.io/geps/gep-1731/
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteTimeouts
import type { ProxyContext } from './context.js';
import type { Exchange } from './forward.js';
import { localReply } from './local-reply.js';
import { applyHeaderOps, responseHeaders } from './headers.js';
import { endpointKey, pickEndpoint } from './balance.js';
import type { UpstreamHandler } from './upstream-pool.js';
import { CLIENT_ABORTED } from './upstream-pool.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/**
 * Upstream statuses that count against an endpoint's circuit: 502 and 504, and 503 unless it
 * carries Retry-After. A 503 with Retry-After is the application answering that it cannot serve
 * this request for now (a sealed vault, its storage unavailable): the endpoint is alive and its
 * next answer may differ, so it must not take the route away (RFC 9110 §15.6.4, §10.2.3).
 */
const FAILING = new Set([502, 503, 504]);

/** Whether a response head (name, value, name, value, …) has a Retry-After field. */
function hasRetryAfter(raw: Buffer[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 11 && name.toString('latin1').toLowerCase() === 'retry-after') return true;
  }
  return false;
}
const UNAVAILABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ZENO_BACKEND_TIMEOUT']);


function classify(code: string): { status: number; code: 'backend_unavailable' | 'upstream_error' | 'upstream_timeout' } {
  if (TIMEOUT.has(code)) return { status: 504, code: 'upstream_timeout' };
  if (UNAVAILABLE.has(code)) return { status: 503, code: 'backend_unavailable' };
  return { status: 502, code: 'upstream_error' };
}

class BackendTimeout extends Error {
  readonly code = 'ZENO_BACKEND_TIMEOUT';
}

/** What the attempts of one exchange share. */
interface Run {
  ctx: ProxyContext;
  ex: Exchange;
  noBody: boolean;
  canRetry: boolean;
  attemptsLeft: number;
}

/** Sends the exchange upstream; retries bodiless idempotent requests per the rule's retry policy. */
export function sendUpstream(ctx: ProxyContext, ex: Exchange): void {
  const retry = ex.rule.retry;
  // A request without a body can be replayed, so it can be retried without buffering.
  const noBody = ex.body === null;
  const canRetry = !!retry && retry.attempts > 0 && noBody && IDEMPOTENT.has(ex.rec.method);
  attempt({ ctx, ex, noBody, canRetry, attemptsLeft: canRetry ? retry!.attempts : 0 });
}

function attempt(run: Run): void {
  const { ctx, ex } = run;
  if (ex.res.destroyed || ex.res.headersSent) return;
  ex.rec.attempts++;
  const ep = ex.endpoint;
  const handler = new Attempt(run, endpointKey(ep));
  const call = ctx.pools.dispatch(ep, { path: ex.path, method: ex.rec.method, headers: ex.headers, body: ex.body }, handler);
  ex.life.call = call;
  if (ex.rule.backendTimeoutMs) handler.timer = setTimeout(() => call.abort(new BackendTimeout('backend request timed out')), ex.rule.backendTimeoutMs);
}

/**
 * The handler of one attempt. One object with prototype methods rather than a handful of
 * closures per request. A retried attempt keeps receiving its (skipped) response while the next runs.
 */
class Attempt implements UpstreamHandler {
  readonly run: Run;
  /** The endpoint's circuit key. */
  readonly key: string;
  timer: NodeJS.Timeout | undefined = undefined;
  done = false;
  skipping = false;
  /** Response body bytes still to come when its length is known (-1 when it is not). */
  left = -1;

  constructor(run: Run, key: string) {
    this.run = run;
    this.key = key;
  }

  finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
  }

  retryLater(): boolean {
    const run = this.run;
    if (run.attemptsLeft <= 0) return false;
    run.attemptsLeft--;
    const next = pickEndpoint(run.ex.backend.endpoints!, run.ctx.breakers);
    if (!next) return false;
    run.ex.endpoint = next;
    const backoffMs = run.ex.rule.retry!.backoffMs;
    if (backoffMs > 0) setTimeout(attempt, backoffMs, run).unref();
    else setImmediate(attempt, run);
    return true;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    const { ctx, ex } = this.run;
    if (FAILING.has(status) && !(status === 503 && hasRetryAfter(raw))) ctx.breakers.failure(this.key);
    else ctx.breakers.success(this.key);
    if (this.run.canRetry && ex.rule.retry!.codes.has(status) && this.retryLater()) {
      this.skipping = true;
      return true;
    }
    const res = ex.res;
    if (res.destroyed || res.headersSent) return false;
    let headers = responseHeaders(raw);
    headers = applyHeaderOps(headers, ex.rule.responseHeaders);
    headers = applyHeaderOps(headers, ex.backend.responseHeaders);
    if (ex.responseExtra) for (const h of ex.responseExtra) headers.push(h);
    try {
      res.writeHead(status, statusText || undefined, headers);
    } catch {
      // Node refused a field (a filter's value with a line break, say): nothing was sent.
      ex.rec.upstreamError = 'invalid_response_header';
      localReply(res, 502, 'upstream_error');
      return false;
    }
    ex.resume = resume;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') this.left = Number(headers[i + 1]);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.skipping) return true;
    const ex = this.run.ex;
    if (this.left === chunk.length) {
      // The last bytes of a body of known length (often the only ones): written with the end.
      this.left = 0;
      ex.res.end(chunk);
      return true;
    }
    if (this.left > 0) this.left -= chunk.length;
    if (ex.res.write(chunk)) return true;
    ex.life.sendStalled();
    ex.res.once('drain', (this.drained ??= () => this.resumeSending()));
    return false;
  }

  /** Made on the first pause only: most responses never wait for the client. */
  drained: (() => void) | undefined = undefined;

  /** The client took the response's buffered bytes: the upstream may send more. */
  resumeSending(): void {
    const ex = this.run.ex;
    ex.life.sendResumed();
    ex.resume?.();
  }

  onComplete(): void {
    this.finish();
    if (this.skipping) return;
    const res = this.run.ex.res;
    if (!res.writableEnded) res.end();
    // Ended, but piling up behind a client that does not read: the send deadline covers the rest.
    if (res.socket?.writableNeedDrain) this.run.ex.life.sendStalled();
  }

  onError(err: Error): void {
    const wasDone = this.done;
    this.finish();
    if (this.skipping || wasDone) return;
    const { ctx, ex } = this.run;
    const res = ex.res;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    // The client's doing (it went away, or broke its request off): its side answers or is gone,
    // and the endpoint is not blamed.
    if (code === CLIENT_ABORTED || code === 'UPSTREAM_ABORTED') {
      ex.rec.upstreamError ??= code;
      return;
    }
    if (res.headersSent) {
      // Upstream reset mid-body: the client's response is cut short, never completed with garbage.
      ex.rec.upstreamError = code;
      ctx.observer?.upstreamError(ex.backend.key, code);
      res.destroy();
      return;
    }
    if (res.destroyed || res.writableEnded) return;
    const c = classify(code);
    ex.rec.upstreamError = code;
    ctx.breakers.failure(this.key);
    ctx.observer?.upstreamError(ex.backend.key, code);
    if (c.code !== 'upstream_timeout' && this.run.canRetry && this.retryLater()) return;
    localReply(res, c.status, c.code);
  }
}
