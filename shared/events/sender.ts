// Delivers one CloudEvent over HTTP in binary mode, with keep-alive connections, and classifies
// the answer as the Knative data-plane contract does.
// @see https://github.com/knative/specs/blob/main/specs/eventing/data-plane.md#event-acknowledgement-and-delivery-retry
import type { Agent, request } from 'undici';
import { toBinaryHeaders, type WireEvent } from './cloudevent.js';

export interface SendResult {
  /** A 2xx answer: the recipient has the event. */
  readonly ok: boolean;
  readonly status: number | undefined;
  /** Whether a failure may succeed later (retry) or never will (dead-letter now). */
  readonly retryable: boolean;
  /** Short operator-facing reason, stored as `last_error`. */
  readonly error: string | undefined;
}

export interface EventSender {
  send(url: string, event: WireEvent, extraHeaders?: Record<string, string>): Promise<SendResult>;
  close(): Promise<void>;
}

/**
 * 404 (endpoint missing, e.g. still starting), 408, 409 (processing in progress), 429 and every
 * 5xx are retried; "other 4xx" are not. Network errors and timeouts are retried.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 404 || status === 408 || status === 409 || status === 429 || status >= 500;
}

interface SenderOptions {
  /** Time allowed for the recipient to answer (default 30 s). */
  timeoutMs?: number;
  /** Keep-alive connections per origin (default 64). */
  connections?: number;
}

/** Creates a sender with its own connection pool. */
export function createEventSender(opts: SenderOptions = {}): EventSender {
  const timeout = opts.timeoutMs ?? 30_000;
  // undici is imported on the first send, not at start: a pod that emits nothing never loads it.
  let pool: Promise<{ agent: Agent; request: typeof request }> | undefined;
  const undici = () =>
    (pool ??= import('undici').then((u) => ({
      agent: new u.Agent({ connections: opts.connections ?? 64, keepAliveTimeout: 4_000, pipelining: 1 }),
      request: u.request,
    })));
  return {
    async send(url, event, extraHeaders) {
      try {
        const { agent, request } = await undici();
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: { ...toBinaryHeaders(event), ...extraHeaders },
          body: event.data === undefined ? undefined : Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength),
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        const text = await res.body.text().catch(() => '');
        const status = res.statusCode;
        if (status >= 200 && status < 300) return { ok: true, status, retryable: false, error: undefined };
        return { ok: false, status, retryable: isRetryableStatus(status), error: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}` };
      } catch (err) {
        const e = err as Error & { code?: string };
        return { ok: false, status: undefined, retryable: true, error: `${e.code ?? e.name}: ${e.message}`.slice(0, 300) };
      }
    },
    close: async () => {
      if (pool) await (await pool).agent.close();
    },
  };
}
