// Listening sockets: one TCP or TLS server per bound address and port (./h2-dispatch.ts) handing
// its connections to node's http server (./listener.ts) or http2 server (./h2-server.ts), each
// serving a Binding whose tables are swapped whole on reload (in-flight requests keep the tables
// they read).
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext } from 'node:tls';
import type { SecureContext, Server as TlsServer } from 'node:tls';
import type { PortTable, TlsCertificate } from '../engine/table.js';
import { hostnameMatches } from '../engine/hostname.js';
import type { Binding, ProxyContext } from './context.js';
import type { ExchangeHandler } from './connection.js';
import { handleRequest } from './forward.js';
import { handleUpgrade } from './upgrade.js';
import type { ServerLimits as Http1Limits } from './listener.js';
import { createListener } from './listener.js';
import { refusalFormatOfHead } from './refusal-format.js';
import { createH2Server } from './h2-server.js';
import { acceptCleartext, acceptTls } from './h2-dispatch.js';
import { listenForHandedConnections } from './handed-server.js';

/** The limits of a listening socket: node's http server's, and its HTTP/2 sessions'. */
export interface ServerLimits extends Http1Limits {
  /** HTTP/2: streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** HTTP/2: streams a client may cancel early, beyond those it completed, before its connection is closed (CVE-2023-44487). */
  maxPrematureResets: number;
}

export interface ListeningSocket {
  readonly binding: Binding;
  readonly host: string;
  readonly port: number;
  /** Replaces the TLS certificates (hot reload); bad PEM pairs are skipped and reported. */
  setCertificates(certs: TlsCertificate[]): string[];
  /**
   * Serves a connection that did not arrive on this socket (a tunnel stream) as if it had: same
   * tables, limits and drain. Its bytes are plain HTTP even on an HTTPS listener, whose TLS ended
   * where the connection came from.
   */
  serveConnection(connection: Duplex): void;
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
      // The CA a client certificate is verified against belongs to the context SNI chooses.
      const ca = c.clientCertificate?.ca;
      entries.push({ hostname: c.hostname, context: createSecureContext({ cert: c.cert, key: c.key, ...(ca ? { ca } : {}) }), pem: c });
    } catch (err) {
      errors.push(`certificate for ${c.hostname ?? '*'}: ${(err as Error).message}`);
    }
  }
  // Most specific first: exact names, then longer wildcards, then the catch-all.
  entries.sort((a, b) => rank(b.hostname) - rank(a.hostname));
  return { entries, errors };
}

const requestsClientCertificate = (certs: TlsCertificate[]): boolean => certs.some((c) => c.clientCertificate !== undefined);

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
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(ctx, binding, req, socket, head);
  const refusalFormatOf = (raw: unknown) => refusalFormatOfHead(binding, raw);
  // Node's http server for HTTP/1.1, handed the connections the listening socket accepted (and
  // decrypted, on HTTPS), and those of a tunnel; node's http2 server for HTTP/2 beside it.
  const listener = createListener(limits, handler, onUpgrade, refusalFormatOf);
  await listenForHandedConnections(listener.server);
  const h2 = createH2Server(
    {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderBytes: limits.maxHeaderBytes,
      maxHeaderCount: ctx.limits.maxHeaderCount,
      maxPrematureResets: limits.maxPrematureResets,
      idleTimeoutMs: Math.max(limits.keepAliveTimeoutMs, limits.requestTimeoutMs),
    },
    (req, res, slot) => handleRequest(ctx, binding, req, res, slot),
  );
  // A port asks every client for a certificate when one of its listeners does (TLS has no
  // per-name request before SNI is known), from its first configuration on; it never refuses a
  // handshake for want of one (rejectUnauthorized false: the ingress says upstream whether it verified).
  const requestCert = requestsClientCertificate(tables.flatMap((t) => t.certificates));
  const server: NetServer =
    scheme === 'https'
      ? acceptTls(
          {
            ...(requestCert ? { requestCert: true, rejectUnauthorized: false } : {}),
            SNICallback: (servername, cb) => {
              const name = servername.toLowerCase();
              const e = sni.find((x) => x.hostname === undefined || hostnameMatches(x.hostname, name)) ?? sni[sni.length - 1];
              cb(e ? null : new Error('no certificate'), e?.context);
            },
          },
          listener.server,
          h2,
        )
      : // h2c by prior knowledge only where a Gateway asks for it (its h2c annotation): a cleartext
        // port otherwise speaks HTTP/1.1 alone, as most clients expect.
        acceptCleartext(listener.server, h2, () => binding.tables.some((t) => t.h2c));
  // Every connection is tracked, those that never finish a TLS handshake too, so a close can cut them.
  const sockets = new Set<Duplex>();
  const track = (s: Duplex) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  server.on('connection', track);
  listener.server.on('connection', track);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await listener.close();
    throw err;
  }
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
      const ca = fallback?.pem.clientCertificate?.ca;
      if (scheme === 'https' && fallback) (server as TlsServer).setSecureContext({ cert: fallback.pem.cert, key: fallback.pem.key, ...(ca ? { ca } : {}) });
      if (requestsClientCertificate(certs) !== requestCert) {
        built.errors.push(`port ${host}:${bound}: a change of ${requestCert ? 'no longer ' : ''}asking for client certificates applies when the port is opened again`);
      }
      return built.errors;
    },
    serveConnection(connection) {
      listener.server.emit('connection', connection);
    },
    async close(graceMs) {
      // Idle connections close now; busy ones after their exchange, or at the end of the grace.
      h2.close();
      const closed = Promise.all([listener.close(), new Promise<void>((resolve) => server.close(() => resolve()))]);
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
