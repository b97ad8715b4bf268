// Serves a fetch handler on a port and drains in-flight requests on close (SIGTERM contract).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { PlatformServerResponse } from './platform-response.js';

export type FetchHandler = (req: Request, env: any) => Response | Promise<Response>;

export interface RunningServer {
  readonly port: number;
  readonly server: Server;
  /** Stops accepting, waits for in-flight requests (at most `graceMs`), then closes every socket. */
  close(graceMs?: number): Promise<void>;
}

/** Fetch's forbidden methods: Node's Request refuses them, @hono/node-server's lightweight one copes. */
const FORBIDDEN_METHOD = /^(?:connect|trace|track)$/i;

/**
 * True when the request may carry a body whose length it does not declare: a method other than
 * GET or HEAD, with Transfer-Encoding or without Content-Length (RFC 9112 §6.3).
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-6.3
 */
function undeclaredLength(req: Request): boolean {
  const method = req.method;
  if (method === 'GET' || method === 'HEAD' || FORBIDDEN_METHOD.test(method)) return false;
  return req.headers.has('transfer-encoding') || !req.headers.has('content-length');
}

/**
 * The request as one of Node's own Requests. @hono/node-server hands the handler a lightweight
 * Request that answers `instanceof Request` without being one, and Node's Request constructor
 * cannot take it as its input: `new Request(req, init)`, which hono/body-limit does to a body it
 * had to stream (one with no declared length), would throw.
 */
function nodeRequest(req: Request): Request {
  const init: RequestInit & { duplex: 'half' } = { method: req.method, headers: req.headers, body: req.body, signal: req.signal, duplex: 'half' };
  return new Request(req.url, init);
}

/**
 * Starts an HTTP/1.1 server (node:http); resolves once it is listening. Port 0 picks a free port.
 * A request with a declared body length (or none: GET, HEAD) reaches `fetch` as the adapter's
 * lightweight Request, which builds no Web Request unless a handler asks for its body stream.
 */
export function listen(fetch: FetchHandler, opts: { port: number; host?: string }): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: (req: Request, env: unknown) => fetch(undeclaredLength(req) ? nodeRequest(req) : req, env),
        port: opts.port,
        hostname: opts.host ?? '0.0.0.0',
        // Left on (the default), @hono/node-server would replace the global Request and Response
        // with its own subclasses; a request read from a socket is its lightweight Request either way.
        overrideGlobalObjects: false,
        serverOptions: { ServerResponse: PlatformServerResponse },
      },
      (info: AddressInfo) => resolve({ port: info.port, server: server as Server, close: (graceMs) => drain(graceMs) }),
    ) as Server;
    // A request is in flight until its response has been written out (or its connection died),
    // not merely until the handler returned: the adapter writes the body after that.
    let inFlight = 0;
    let idle: (() => void) | undefined;
    server.on('request', (_: IncomingMessage, res: ServerResponse) => {
      inFlight++;
      res.once('close', () => {
        inFlight--;
        if (inFlight === 0 && idle) idle();
      });
    });
    const drain = async (graceMs = 10_000): Promise<void> => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((r) => (idle = r)),
          new Promise<void>((r) => setTimeout(r, graceMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
    };
    server.once('error', reject);
    // Bound slow clients: a request's headers must arrive within 10 s, the whole request within 60 s.
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
  });
}
