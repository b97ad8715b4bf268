// Node's http server as the proxy's listeners run it: strict parsing (no lenient flags), the head,
// request and keep-alive deadlines, and its events handed to ./connection.ts, which answers
// requests in order and says why one was refused. CONNECT is refused; an upgrade is handed on
// only when nothing is in flight before it on its connection.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClientConnection, ExchangeHandler, RefusalFormatOf } from './connection.js';
import { connectionOf, existingConnection } from './connection.js';
import { rawProblem } from './local-reply.js';
import { hasBody } from './request-body.js';

export interface ServerLimits {
  /** Largest request head (431 beyond), node's `maxHeaderSize`. */
  maxHeaderBytes: number;
  /** Time to receive a request head (408 beyond: slowloris). */
  headersTimeoutMs: number;
  /** Time to receive a whole request, body included (408 beyond, or the connection is cut). */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * `optimizeEmptyRequests` (node 24.12 and later; older versions ignore it): a request without
 * Content-Length or Transfer-Encoding gets a body stream that is already ended, so node neither
 * emits its stream events nor dumps it after the response. Not yet in the typings of the oldest
 * supported node.
 */
type ProxyServerOptions = ServerOptions & { optimizeEmptyRequests?: boolean };

/** Node's http server settings for the proxy's listeners. */
function serverOptions(limits: ServerLimits): ProxyServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // The deadlines above are checked this often (node's default is every 30 s).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, limits.headersTimeoutMs / 4, limits.requestTimeoutMs / 4)),
    noDelay: true,
    // The request path answers a missing or repeated Host itself, with problem+json.
    requireHostHeader: false,
    // The same buffer sizes on every Node version (20 has 16 KB streams, 22 and later 64 KB).
    highWaterMark: 65_536,
    optimizeEmptyRequests: true,
  };
}

interface Listener {
  readonly server: Server;
  /**
   * Graceful close: stops accepting, closes idle connections now and busy ones after their
   * exchange (answered with `Connection: close`); resolves once every connection the server
   * accepted itself has closed (those handed to it are waited for by whoever handed them).
   */
  close(): Promise<void>;
}

/**
 * An http server serving `handler` and `onUpgrade` on the connections it accepts or is handed
 * (TLS ones too, decrypted by the server that accepted them); `refusalFormatOf` chooses the shape
 * of the answer to a head the parser refused.
 */
export function createListener(limits: ServerLimits, handler: ExchangeHandler, onUpgrade: UpgradeHandler, refusalFormatOf?: RefusalFormatOf): Listener {
  const server: Server = createHttpServer(serverOptions(limits));
  // No silent cut of long field lists (node keeps the first 2,000 by default and drops the rest,
  // Content-Length included): the head's size bounds them, and the proxy refuses too many (431).
  server.maxHeadersCount = 0;
  const live = new Set<ClientConnection>();
  let draining = false;
  const made = (conn: ClientConnection) => {
    live.add(conn);
    conn.socket.once('close', () => live.delete(conn));
    if (draining) conn.drain();
  };
  server.on('request', (req: IncomingMessage, res) => connectionOf(req.socket, handler, made, refusalFormatOf).receive(req, res));
  // "Expect: 100-continue": 100 Continue is sent when the handler starts reading the body, so a
  // request refused from its head (413, 404, ...) never has its body sent. A final answer given
  // without it leaves the client's body unsent and unread: the connection then closes after the
  // answer, as it cannot tell where the next request would start (RFC 9110 §10.1.1).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    let continued = false;
    const reading = () => {
      req.off('newListener', listening);
      req.off('resume', reading);
      if (res.headersSent || res.destroyed) return;
      continued = true;
      res.writeContinue();
    };
    const listening = (event: string | symbol) => {
      if (event === 'data' || event === 'readable') reading();
    };
    // Reading starts with a resume(), or a 'data' or 'readable' listener (pipe, async iteration).
    req.once('resume', reading);
    req.on('newListener', listening);
    res.once('finish', () => {
      if (!continued && !req.complete) req.socket.destroySoon();
    });
    connectionOf(req.socket, handler, made, refusalFormatOf).receive(req, res);
  });
  server.on('clientError', (err: Error, socket: Duplex) => connectionOf(socket as Socket, handler, made, refusalFormatOf).clientError(err));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const conn = existingConnection(req.socket);
    // An upgrade behind exchanges still being answered would take their connection from them;
    // a body before the new protocol has no defined meaning.
    if (conn !== undefined && !conn.mayUpgrade()) socket.destroy();
    else if (hasBody(req)) socket.end(rawProblem(400, 'bad_request'));
    else onUpgrade(req, socket, head);
  });
  // A reverse proxy opens no tunnels.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawProblem(400, 'bad_request'));
  });
  let closed: Promise<void> | undefined;
  return {
    server,
    close() {
      closed ??= new Promise<void>((resolve) => {
        draining = true;
        server.close(() => resolve());
        server.closeIdleConnections();
        for (const conn of live) conn.drain();
      });
      return closed;
    },
  };
}
