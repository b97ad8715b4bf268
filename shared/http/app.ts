// Wraps a function's Hono app in the platform contract: request id, access log, metrics,
// secure headers, body limit, problem+json errors, /healthz, /readyz, /metrics.
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { LogFields, Logger } from '#shared/log/index';
import type { Metrics } from '#shared/metrics/index';
import { AppError, internalError, toAppError } from './errors.js';
import { PlatformServerResponse } from './platform-response.js';
import { resolveRequestId } from './request-id.js';

/** Variables every platform request carries. */
export type AppEnv = { Variables: { requestId: string; log: Logger } };

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

interface PlatformAppOptions {
  name: string;
  log: Logger;
  metrics: Metrics;
  bodyLimitBytes: number;
  /** Returns the state of each dependency; any `ok: false` makes /readyz answer 503. */
  readiness: () => Promise<ReadinessCheck[]>;
  /**
   * What must hold for the process to be worth keeping (no I/O: answered at once); any
   * `ok: false` makes /healthz answer 503, and the orchestrator restarts the process.
   */
  liveness?: () => ReadinessCheck[];
  /** Renders the platform's own errors in the function's protocol shape; problem+json when absent. */
  renderError?: ErrorRenderer | undefined;
}

/**
 * Renders an error the platform answers itself (body too large, no route, database unavailable,
 * the fixed 500) in a protocol's own shape (Vault's `{"errors": [...]}`), or undefined to keep
 * problem+json.
 */
export type ErrorRenderer = (err: AppError) => Response | undefined;

const INTERNAL = new AppError(500, 'internal_error', 'Internal Server Error', { detail: 'internal error' });

/**
 * Response headers every platform response carries (what hono/secure-headers sets by default,
 * minus the cross-origin resource and opener policies), computed once. A handler's own value
 * for one of them (a page's stricter policy) is kept.
 * @see https://owasp.org/www-project-secure-headers/
 */
const SECURE_HEADERS: readonly (readonly [string, string])[] = [
  ['origin-agent-cluster', '?1'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=15552000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-dns-prefetch-control', 'off'],
  ['x-download-options', 'noopen'],
  ['x-frame-options', 'SAMEORIGIN'],
  ['x-permitted-cross-domain-policies', 'none'],
  ['x-xss-protection', '0'],
];

/** A logger whose records carry the request id: one small object per request, no child logger. */
class RequestLogger implements Logger {
  readonly #log: Logger;
  readonly #requestId: string;
  constructor(log: Logger, requestId: string) {
    this.#log = log;
    this.#requestId = requestId;
  }
  debug(msg: string, fields?: LogFields): void {
    this.#log.debug(msg, { request_id: this.#requestId, ...fields });
  }
  info(msg: string, fields?: LogFields): void {
    this.#log.info(msg, { request_id: this.#requestId, ...fields });
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log.warn(msg, { request_id: this.#requestId, ...fields });
  }
  error(msg: string, fields?: LogFields): void {
    this.#log.error(msg, { request_id: this.#requestId, ...fields });
  }
  child(fields: LogFields): Logger {
    return this.#log.child({ request_id: this.#requestId, ...fields });
  }
}

function requestLogger(log: Logger, requestId: string): Logger {
  return new RequestLogger(log, requestId);
}

/** Renders any thrown value; unexpected ones are logged once and become a fixed 500. */
export function handleError(err: unknown, c: Context<AppEnv>, render?: ErrorRenderer): Response {
  const requestId = c.get('requestId');
  const known = toAppError(err);
  if (known) {
    // The operator hears of a database that fails requests; the client only that it may retry.
    if (known !== err && known.status === 503) (c.get('log') ?? console).warn('database unavailable', { request_id: requestId, code: known.code, err });
    return render?.(known) ?? known.getResponse(requestId);
  }
  (c.get('log') ?? console).error('unhandled error', { request_id: requestId, err });
  return render?.(INTERNAL) ?? internalError(requestId);
}

/** Builds the outer app of a function and mounts `inner` under it. */
export function createPlatformApp(inner: Hono<any>, opts: PlatformAppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { log, metrics } = opts;

  app.use(async (c, next) => {
    const started = performance.now();
    const requestId = resolveRequestId(c.req.raw.headers);
    c.set('requestId', requestId);
    c.set('log', requestLogger(log, requestId));
    // Behind listen() (shared/http/serve.ts) the fixed headers join the response's own header
    // object when its head is written, so the response keeps its cheap plain-object headers (no
    // Headers copy); elsewhere (in process) they are set on the Response after the handler.
    const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
    const direct = outgoing instanceof PlatformServerResponse;
    if (direct) outgoing.addDefaultHeaders(requestId, SECURE_HEADERS);
    await next();
    if (!direct) {
      const h = c.res.headers;
      h.set('x-request-id', requestId);
      for (const [name, value] of SECURE_HEADERS) if (!h.has(name)) h.set(name, value);
    }
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath || 'unmatched';
    const status = c.res.status;
    metrics.httpDuration.observe({ fn: opts.name, method: c.req.method, route, status: String(status) }, seconds);
    if (route === '/healthz' || route === '/metrics') return;
    log.info('request', {
      request_id: requestId,
      method: c.req.method,
      path: c.req.path,
      route,
      status,
      duration_ms: Math.round(seconds * 100_000) / 100,
    });
  });
  const tooLarge = () =>
    new AppError(413, 'payload_too_large', 'Payload Too Large', {
      detail: `The request body exceeds ${opts.bodyLimitBytes} bytes.`,
    });
  const limitStream = bodyLimit({
    maxSize: opts.bodyLimitBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  // Hono's limiter reads `c.req.raw.body`, which makes @hono/node-server build a full Request for
  // every request. A declared Content-Length is enforced by Node's HTTP parser, so it is checked
  // from the header; only bodies without one (chunked) are streamed through the limiter.
  app.use(async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (!/^\d+$/.test(length) || Number(length) > opts.bodyLimitBytes) throw tooLarge();
      return next();
    }
    return limitStream(c, next);
  });

  app.get('/healthz', (c) => {
    const checks = opts.liveness?.() ?? [];
    if (checks.every((ch) => ch.ok)) return c.json({ status: 'ok' });
    return c.json({ status: 'unhealthy', checks }, 503);
  });
  app.get('/readyz', async (c) => {
    let checks: ReadinessCheck[];
    try {
      checks = await opts.readiness();
    } catch (err) {
      checks = [{ name: 'readiness', ok: false, detail: (err as Error).message }];
    }
    const ok = checks.every((ch) => ch.ok);
    return c.json({ status: ok ? 'ready' : 'not ready', checks }, ok ? 200 : 503);
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  app.route('/', inner);
  const render = opts.renderError;
  app.notFound((c) => notFoundResponse(c, render));
  app.onError((err, c) => handleError(err, c, render));
  return app;
}

function notFoundResponse(c: Context<AppEnv>, render: ErrorRenderer | undefined): Response {
  const err = new AppError(404, 'not_found', 'Not Found', {
    detail: `No route for ${c.req.method} ${c.req.path}.`,
  });
  return render?.(err) ?? err.getResponse(c.get('requestId'));
}
