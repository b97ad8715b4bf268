// The dispatcher's sender when the subscriber runs in this process (`npm start`): a delivery to
// `<localUrl>/_fn/<function>/...` goes straight to that function's platform-wrapped app as a
// binary-mode CloudEvents request, without a loopback socket, HTTP parse and stream copy per event.
// The function sees the same request (request id, access log, metrics, body limit, problem+json
// errors all apply) and the answer is classified as over HTTP; any other URL (an external
// dead-letter sink) goes to the fallback sender.
// @see https://github.com/knative/specs/blob/main/specs/eventing/data-plane.md#event-acknowledgement-and-delivery-retry
import { toBinaryHeaders, type WireEvent } from '#shared/events/cloudevent';
import { isRetryableStatus, type EventSender, type SendResult } from '#shared/events/sender';
import type { HostedFunction } from '#shared/function/host';
import { INTERNAL_PREFIX } from './internal.js';
import { localRequest } from './local-request.js';

interface LocalSenderOptions {
  /** `http://127.0.0.1:<port>`: the runner's own base URL, as subscriber URLs carry it. */
  localUrl: string;
  hosted: readonly HostedFunction[];
  /** For every URL that is not a function of this process. */
  fallback: EventSender;
  /** Time allowed for the function to answer (default 30 s, as the HTTP sender). */
  timeoutMs?: number;
}

/** The caller is this process: the loopback address the internal routes require. */
const LOCAL_ENV = Object.freeze({ incoming: Object.freeze({ socket: Object.freeze({ remoteAddress: '127.0.0.1' }) }) });

export function createLocalSender(opts: LocalSenderOptions): EventSender {
  const base = `${opts.localUrl}${INTERNAL_PREFIX}`;
  const byName = new Map(opts.hosted.map((h) => [h.declaration.name, h]));
  const timeout = opts.timeoutMs ?? 30_000;

  const route = (url: string): { fn: HostedFunction; path: string } | undefined => {
    if (!url.startsWith(base)) return undefined;
    const rest = url.slice(base.length);
    const slash = rest.indexOf('/');
    const fn = byName.get(slash < 0 ? rest : rest.slice(0, slash));
    return fn ? { fn, path: slash < 0 ? '/' : rest.slice(slash) } : undefined;
  };

  const sendLocal = async (fn: HostedFunction, path: string, event: WireEvent, extra: Record<string, string> | undefined): Promise<SendResult> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      // Content-Length as an HTTP client sends it: the platform's body limit then checks the
      // header instead of streaming the body through a counter into a second Request.
      const headers = { ...toBinaryHeaders(event), ...extra, 'content-length': String(event.data?.byteLength ?? 0) };
      const req = localRequest(`http://127.0.0.1${path}`, headers, event.data);
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeout} ms`), { name: 'TimeoutError' })), timeout);
      });
      const res = await Promise.race([Promise.resolve(fn.app.fetch(req, LOCAL_ENV)), timedOut]);
      const status = res.status;
      // A 2xx answer's body is not read: in process it holds no connection and goes with the
      // response (asking for `body` would build the full Response that @hono/node-server's
      // lightweight one spares).
      if (status >= 200 && status < 300) {
        return { ok: true, status, retryable: false, error: undefined };
      }
      const text = await res.text().catch(() => '');
      return { ok: false, status, retryable: isRetryableStatus(status), error: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}` };
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, status: undefined, retryable: true, error: `${e.code ?? e.name}: ${e.message}`.slice(0, 300) };
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    send(url, event, extraHeaders) {
      const target = route(url);
      return target ? sendLocal(target.fn, target.path, event, extraHeaders) : opts.fallback.send(url, event, extraHeaders);
    },
    close: () => opts.fallback.close(),
  };
}
