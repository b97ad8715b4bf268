// One upstream exchange through the endpoint's pool (./upstream-pool.ts), with retries (GEP-1731),
// backend timeouts and circuit accounting: an endpoint is blamed for what it did (refused, reset,
// timed out, answered 502-504), never for a client that broke its own request off. Bodies stream
// both ways with backpressure: response chunks are written as they come, and the upstream is
// paused while the client socket is full (the send deadline then runs).
// @see https://gateway-api.sigs.k8s.io/geps/gep-1731/
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteTimeouts
import type { ProxyContext } from './context.js';
import type { Exchange } from './forward.js';
import { cutResponse, isHttp2, localReply } from './local-reply.js';
import { applyHeaderOps, responseHeaders } from './headers.js';
import { endpointKey, pickEndpoint } from './balance.js';
import type { UpstreamHandler } from './upstream-pool.js';
import { BODY_TOO_LARGE, CLIENT_ABORTED, QUEUE_TIMEOUT } from './upstream-pool.js';
import { replayable } from './request-body.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/*
 * Upstream statuses that count against an endpoint's circuit: 502 and 504, which say the
 * endpoint failed the exchange. A 503 is the application answering that it cannot serve this
 * request for now (a sealed vault, contended writes, its storage unavailable): the endpoint is
 * alive and its next answer may differ, so it counts only on routes that say so (the
 * circuit-counts-503 annotation), and never with Retry-After (RFC 9110 §15.6.4, §10.2.3).
 */

/** Whether a response head (name, value, name, value, …) has a Retry-After field. */
function hasRetryAfter(raw: Buffer[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 11 && name.toString('latin1').toLowerCase() === 'retry-after') return true;
  }
  return false;
}
const UNAVAILABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/** Failures by which no byte of the request reached the upstream: no connection was made. */
const NOT_SENT = UNAVAILABLE;
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
  /** The request may be sent again whatever became of it: idempotent, its body (if any) held whole. */
  canRetry: boolean;
  /** The request may be sent again if it never reached the upstream (a refused connection): its body is held whole. */
  canResend: boolean;
  attemptsLeft: number;
}

/**
 * Sends the exchange upstream, retrying per the rule's retry policy (GEP-1731): "Implementations
 * MUST NOT retry requests that are not idempotent unless ... the request was never sent", so a
 * listed status or a failure midway is retried for an idempotent request only, a connection that
 * could not be made for any request; either way only a body held whole can be sent again.
 */
export function sendUpstream(ctx: ProxyContext, ex: Exchange): void {
  const retry = ex.rule.retry;
  const resendable = !!retry && retry.attempts > 0 && replayable(ex.body);
  const canRetry = resendable && IDEMPOTENT.has(ex.rec.method);
  attempt({ ctx, ex, canRetry, canResend: resendable, attemptsLeft: resendable ? retry!.attempts : 0 });
}

function attempt(run: Run): void {
  const { ctx, ex } = run;
  if (ex.res.destroyed || ex.res.headersSent) return;
  ex.rec.attempts++;
  const ep = ex.endpoint;
  const key = endpointKey(ep);
  // Only a circuit's probe is let through a half-open circuit.
  const handler = new Attempt(run, key, ctx.breakers.state(key) === 'half-open');
  const d = ex.rule.deadlines;
  const call = ctx.pools.dispatch(
    ep,
    { path: ex.path, method: ex.rec.method, headers: ex.headers, body: ex.body, maxBodyBytes: ex.rule.maxBodyBytes, flow: ctx.flow, firstByteMs: d?.firstByte, idleMs: d?.idle },
    handler,
  );
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
  /** This attempt is the half-open circuit's probe: it must say how the endpoint did, or let another probe. */
  readonly probe: boolean;
  /** The endpoint's circuit heard of this attempt. */
  judged = false;
  timer: NodeJS.Timeout | undefined = undefined;
  done = false;
  skipping = false;
  /** Response body bytes still to come when its length is known (-1 when it is not). */
  left = -1;
  /**
   * The response head, held until its first body byte, its end, or the next turn of the event
   * loop: a malformed first chunk read with the head then gets a 502, not a response cut short.
   */
  head: string[] | undefined = undefined;
  status = 0;
  statusText = '';
  flusher: NodeJS.Immediate | undefined = undefined;

  constructor(run: Run, key: string, probe: boolean) {
    this.run = run;
    this.key = key;
    this.probe = probe;
  }

  judge(ok: boolean): void {
    this.judged = true;
    if (ok) this.run.ctx.breakers.success(this.key);
    else this.run.ctx.breakers.failure(this.key);
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
    const ex = this.run.ex;
    this.judge(!(status === 502 || status === 504 || (status === 503 && ex.rule.circuitCounts503 && !hasRetryAfter(raw))));
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
    this.head = headers;
    this.status = status;
    this.statusText = statusText;
    this.flusher = setImmediate(deferHead, this);
    ex.resume = resume;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') this.left = Number(headers[i + 1]);
    }
    return true;
  }

  /** Writes the held head; false when node refused it (the client then got a 502, the upstream is abandoned). */
  writeHead(): boolean {
    const headers = this.head;
    if (headers === undefined) return true;
    this.head = undefined;
    clearImmediate(this.flusher);
    const { ex } = this.run;
    const res = ex.res;
    if (res.destroyed) return false;
    try {
      // HTTP/2 has no reason phrase (RFC 9113 §8.3.2).
      if (isHttp2(res)) res.writeHead(this.status, headers);
      else res.writeHead(this.status, this.statusText || undefined, headers);
      return true;
    } catch {
      // Node refused a field (a filter's value with a line break, say): nothing was sent.
      ex.rec.upstreamError = 'invalid_response_header';
      localReply(res, 502, 'upstream_error');
      ex.life.call?.abort();
      return false;
    }
  }

  onData(chunk: Buffer): boolean {
    if (this.skipping) return true;
    if (this.head !== undefined && !this.writeHead()) return true;
    const ex = this.run.ex;
    if (this.left === chunk.length) {
      // The last bytes of a body of known length (often the only ones): written with the end.
      this.left = 0;
      ex.res.end(chunk);
      return true;
    }
    if (this.left > 0) this.left -= chunk.length;
    const more = ex.res.write(chunk);
    const held = ex.res.writableLength;
    const flow = this.run.ctx.flow;
    if (held > flow.responsePeak) flow.responsePeak = held;
    if (more) return true;
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
    if (this.head !== undefined && !this.writeHead()) return;
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
    // The client's doing (it went away, broke its request off, or sent more than the route takes):
    // its side answers or is gone, and the endpoint is not blamed. A probe that ends so lets the
    // next request probe.
    if (code === CLIENT_ABORTED || code === 'UPSTREAM_ABORTED' || code === BODY_TOO_LARGE) {
      ex.rec.upstreamError ??= code;
      if (this.probe && !this.judged) ctx.breakers.release(this.key);
      if (code === BODY_TOO_LARGE) {
        this.head = undefined;
        clearImmediate(this.flusher);
        localReply(res, 413, 'body_too_large', ['connection', 'close']);
      }
      return;
    }
    // Every connection to the endpoint stayed busy past the queue deadline: the endpoint is busy,
    // not failing, and is not blamed.
    if (code === QUEUE_TIMEOUT) {
      ex.rec.upstreamError = code;
      if (this.probe && !this.judged) ctx.breakers.release(this.key);
      ctx.observer?.upstreamError(ex.backend.key, code);
      localReply(res, 503, 'backend_busy', ['retry-after', '1']);
      return;
    }
    // A head held back and never written: the client gets a whole answer rather than a cut.
    if (this.head !== undefined) {
      this.head = undefined;
      clearImmediate(this.flusher);
    }
    if (res.headersSent) {
      // Upstream reset mid-body: the client's response is cut short, never completed with garbage.
      ex.rec.upstreamError = code;
      ctx.observer?.upstreamError(ex.backend.key, code);
      cutResponse(res);
      return;
    }
    if (res.destroyed || res.writableEnded) return;
    const c = classify(code);
    ex.rec.upstreamError = code;
    if (!this.judged) this.judge(false);
    ctx.observer?.upstreamError(ex.backend.key, code);
    const retryable = this.run.canRetry || (this.run.canResend && NOT_SENT.has(code));
    if (c.code !== 'upstream_timeout' && retryable && this.retryLater()) return;
    localReply(res, c.status, c.code);
  }
}

/**
 * A head that came without body bytes waits one more turn: undici fails an exchange whose body
 * framing is malformed once its socket has closed, in the turn's close phase, after this one.
 */
function deferHead(a: Attempt): void {
  if (a.head !== undefined && !a.done) a.flusher = setImmediate(flushHead, a);
}

/** Writes a held response head two turns after it came (nothing of the body came with it). */
function flushHead(a: Attempt): void {
  a.flusher = undefined;
  if (a.head !== undefined && !a.done) a.writeHead();
}
