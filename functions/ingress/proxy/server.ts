// Listening sockets: one node http/https server per bound address and port, each serving a
// Binding whose tables are swapped whole on reload (in-flight requests keep the tables they read).
// Node's server parses strictly (no lenient flags) and enforces the head, request and keep-alive
// deadlines; ./connection.ts answers requests in order and says why one was refused.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { PortTable, TlsCertificate } from '../engine/table.js';
import { hostnameMatches } from '../engine/hostname.js';
import type { Binding, ProxyContext } from './context.js';
import type { ExchangeHandler } from './connection.js';
import { connectionOf, existingConnection } from './connection.js';
import { handleRequest } from './forward.js';
import { handleUpgrade } from './upgrade.js';
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

/** Node's http server settings for the proxy's listeners. */
function serverOptions(limits: ServerLimits): ServerOptions {
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
  };
}

export interface ListeningSocket {
  readonly binding: Binding;
  readonly host: string;
  readonly port: number;
  /** Replaces the TLS certificates (hot reload); bad PEM pairs are skipped and reported. */
  setCertificates(certs: TlsCertificate[]): string[];
  close(graceMs: number): Promise<void>;
}

interface SniEntry {
  hostname: string | undefined;
  context: SecureContext;
  pem: TlsCertificate;
}

function buildContexts(certs: TlsCertificate[]): { entries: SniEntry[]; errors: string[] } {
  const entries: SniEntry[] = [];
  const errors: string[] = [];
  for (const c of certs) {
    try {
      entries.push({ hostname: c.hostname, context: createSecureContext({ cert: c.cert, key: c.key }), pem: c });
    } catch (err) {
      errors.push(`certificate for ${c.hostname ?? '*'}: ${(err as Error).message}`);
    }
  }
  // Most specific first: exact names, then longer wildcards, then the catch-all.
  entries.sort((a, b) => rank(b.hostname) - rank(a.hostname));
  return { entries, errors };
}

const rank = (h: string | undefined) => (h === undefined ? 0 : h.startsWith('*.') ? h.length : 1000 + h.length);

/** Opens a listening socket for `tables` on host:port (port 0 picks one). */
export async function openSocket(
  ctx: ProxyContext,
  limits: ServerLimits,
  host: string,
  port: number,
  tables: PortTable[],
): Promise<ListeningSocket> {
  const scheme = tables[0]?.protocol === 'HTTPS' ? 'https' : 'http';
  const binding: Binding = { tables, scheme };
  let sni: SniEntry[] = [];
  const handler: ExchangeHandler = (req, res, conn) => handleRequest(ctx, binding, req, res, conn);
  const options = serverOptions(limits);
  const server: HttpServer =
    scheme === 'https'
      ? createHttpsServer({
          ...options,
          SNICallback: (servername, cb) => {
            const name = servername.toLowerCase();
            const e = sni.find((x) => x.hostname === undefined || hostnameMatches(x.hostname, name)) ?? sni[sni.length - 1];
            cb(e ? null : new Error('no certificate'), e?.context);
          },
        })
      : createHttpServer(options);
  server.on('request', (req: IncomingMessage, res) => connectionOf(req.socket, handler).receive(req, res));
  server.on('clientError', (err: Error, socket: Duplex) => connectionOf(socket as Socket, handler).clientError(err));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const conn = existingConnection(req.socket);
    // An upgrade behind exchanges still being answered would take their connection from them;
    // a body before the new protocol has no defined meaning.
    if (conn !== undefined && !conn.mayUpgrade()) socket.destroy();
    else if (hasBody(req)) socket.end(rawProblem(400, 'bad_request'));
    else handleUpgrade(ctx, binding, req, socket, head);
  });
  // A reverse proxy opens no tunnels.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawProblem(400, 'bad_request'));
  });
  if (scheme === 'https') server.on('tlsClientError', () => {});
  // Sockets that never finish a TLS handshake are tracked too, so a close can cut them.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const bound = (server.address() as AddressInfo).port;
  return {
    binding,
    host,
    port: bound,
    setCertificates(certs) {
      const built = buildContexts(certs);
      sni = built.entries;
      // Clients that send no SNI get the catch-all certificate (or the least specific one).
      const fallback = sni[sni.length - 1];
      if (scheme === 'https' && fallback) (server as HttpsServer).setSecureContext({ cert: fallback.pem.cert, key: fallback.pem.key });
      return built.errors;
    },
    async close(graceMs) {
      // Idle connections close now; busy ones after their exchange, or at the end of the grace.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
