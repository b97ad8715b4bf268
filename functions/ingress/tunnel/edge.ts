// The edge: a TLS listener agents dial out to (./handshake.ts, ./agent-auth.ts), and a user-facing
// HTTP(S) listener whose requests go to the agents serving their hostnames (./edge-forward.ts).
// Sessions are kept in ./sessions.ts; a session that closes takes its hostnames with it.
// The users' listener is the ingress's own front (../proxy/h2-dispatch.ts): over TLS, ALPN picks
// HTTP/2 or HTTP/1.1; in cleartext, HTTP/2 by prior knowledge where `h2c` is set. HTTP/2 streams
// are served by the ingress's HTTP/2 server (../proxy/h2-server.ts: limits, rapid-reset guard) and
// go through the tunnel as HTTP/1.1 requests, like every other.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import { createSession } from '#shared/yamux/index';
import { acceptCleartext, acceptTls } from '../proxy/h2-dispatch.js';
import { createH2Server } from '../proxy/h2-server.js';
import { listenForHandedConnections } from '../proxy/handed-server.js';
import type { AgentCheck } from './agent-auth.js';
import type { EdgeCounters } from './edge-forward.js';
import { forwardRequest, forwardUpgrade } from './edge-forward.js';
import { HOSTNAMES_FIELD, TUNNEL_PATH, TUNNEL_PROTOCOL } from './handshake.js';
import { TunnelRefusal } from './refusal.js';
import type { AgentSession } from './sessions.js';
import { SessionTable } from './sessions.js';

interface EdgeOptions {
  /** Where agents dial in: always TLS (`cert` and `key`; `ca` + `requestCert` to ask for client certificates too). */
  agents: { host: string; port: number; tls: SecureContextOptions & { requestCert?: boolean } };
  /** Where users' requests arrive; HTTPS (ALPN h2 and http/1.1) when `tls` is given. */
  users: { host: string; port: number; tls?: SecureContextOptions } & UserLimits;
  check: AgentCheck;
  /** Yamux keepalive toward agents, milliseconds (default 15 000; 0: off). */
  keepAliveMs?: number;
  /** Streams one agent session may carry at once (default 4096). */
  maxStreamsPerSession?: number;
  onEvent?: (event: EdgeEvent) => void;
}

interface UserLimits {
  /** Cleartext listener: HTTP/2 by prior knowledge too (h2c, RFC 9113 §3.3; default false). */
  h2c?: boolean;
  /** Time to receive a whole request, body included, milliseconds (default 60 000): 408 beyond. */
  requestTimeoutMs?: number;
  /** HTTP/2: streams one connection may have open at once (default 100). */
  maxConcurrentStreams?: number;
  /** HTTP/2: streams a client may cancel early, beyond those it completed, before its connection is closed (default 100). */
  maxPrematureResets?: number;
}

export type EdgeEvent =
  | { type: 'agent-connected'; clientId: string; hostnames: string[]; remote: string }
  | { type: 'agent-refused'; code: string; remote: string; cause?: unknown }
  | { type: 'agent-draining'; clientId: string; remote: string }
  | { type: 'agent-disconnected'; clientId: string; remote: string; error?: Error };

export interface SessionStatus {
  clientId: string;
  hostnames: string[];
  remote: string;
  since: string;
  draining: boolean;
  streams: number;
  rttMs: number | undefined;
  bytesIn: number;
  bytesOut: number;
  windowStalls: number;
}

export interface Edge {
  readonly agentPort: number;
  readonly userPort: number;
  readonly counters: Readonly<EdgeCounters>;
  sessions(): SessionStatus[];
  close(): Promise<void>;
}

async function listen(server: NetServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  return (server.address() as AddressInfo).port;
}

export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  const table = new SessionTable();
  const counters: EdgeCounters = { requests: 0, upgrades: 0, noAgent: 0, tunnelErrors: 0 };
  const emit = opts.onEvent ?? (() => {});
  let nextId = 1;

  const agentServer = createHttpsServer({ ...opts.agents.tls, headersTimeout: 10_000, requestTimeout: 10_000, maxHeaderSize: 16_384 }, (_req, res) => {
    res.writeHead(426, { upgrade: TUNNEL_PROTOCOL, connection: 'Upgrade, close', 'content-length': '0' }).end();
  });
  agentServer.on('tlsClientError', () => {});
  agentServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const remote = `${(req.socket as Socket).remoteAddress}:${(req.socket as Socket).remotePort}`;
    const refuse = (err: unknown) => {
      const refusal = err instanceof TunnelRefusal ? err : new TunnelRefusal('invalid_request', 'The handshake failed.', { cause: err });
      emit({ type: 'agent-refused', code: refusal.code, remote, cause: refusal.cause });
      socket.end(refusal.render());
    };
    if (req.method !== 'GET' || req.url !== TUNNEL_PATH || (req.headers.upgrade ?? '').toLowerCase() !== TUNNEL_PROTOCOL) {
      return refuse(new TunnelRefusal('invalid_request', `Upgrade to ${TUNNEL_PROTOCOL} with GET ${TUNNEL_PATH}.`));
    }
    const hostnames = req.headers[HOSTNAMES_FIELD];
    opts.check(req.headers.authorization, typeof hostnames === 'string' ? hostnames : undefined).then((identity) => {
      if (socket.destroyed) return;
      // Small frames (a request head, a window update) must not wait for Nagle's algorithm.
      (req.socket as Socket).setNoDelay(true);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${TUNNEL_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`);
      if (head.length > 0) socket.unshift(head);
      const session = createSession(socket, { side: 'server', keepAliveInterval: opts.keepAliveMs ?? 15_000, keepAliveTimeout: opts.keepAliveMs ?? 15_000, maxStreams: opts.maxStreamsPerSession ?? 4096 });
      const agent: AgentSession = { id: nextId++, clientId: identity.clientId, hostnames: identity.hostnames, remote, since: new Date(), session, draining: false };
      // Agents open no streams toward the edge.
      session.on('stream', (s: Duplex) => s.destroy());
      session.on('goaway', () => {
        agent.draining = true;
        emit({ type: 'agent-draining', clientId: agent.clientId, remote });
      });
      session.on('close', (error?: Error) => {
        table.remove(agent);
        emit({ type: 'agent-disconnected', clientId: agent.clientId, remote, ...(error ? { error } : {}) });
      });
      table.add(agent);
      emit({ type: 'agent-connected', clientId: identity.clientId, hostnames: identity.hostnames, remote });
    }, refuse);
  });

  const u = opts.users;
  const requestTimeoutMs = u.requestTimeoutMs ?? 60_000;
  const maxHeaderBytes = 16_384;
  // Node's http server for HTTP/1.1 and node's http2 server beside it, both handed the
  // connections the users' listening socket accepted (and decrypted, on HTTPS).
  const userServer: Server = createHttpServer({ headersTimeout: Math.min(10_000, requestTimeoutMs), requestTimeout: requestTimeoutMs, keepAliveTimeout: 5_000, maxHeaderSize: maxHeaderBytes, noDelay: true });
  await listenForHandedConnections(userServer);
  userServer.on('request', (req, res) => forwardRequest(table, counters, req, res));
  userServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => forwardUpgrade(table, counters, req, socket, head));
  userServer.on('connect', (_req: IncomingMessage, socket: Duplex) => socket.destroy());
  const h2 = createH2Server(
    {
      maxConcurrentStreams: u.maxConcurrentStreams ?? 100,
      maxHeaderBytes,
      maxHeaderCount: 200,
      maxPrematureResets: u.maxPrematureResets ?? 100,
      idleTimeoutMs: Math.max(5_000, requestTimeoutMs),
    },
    (req, res) => forwardRequest(table, counters, req, res, requestTimeoutMs),
  );
  let front: NetServer;
  if (u.tls) {
    // No SNI choice at the edge: one certificate for every name (it may list several).
    const server: TlsServer = acceptTls({}, userServer, h2);
    server.setSecureContext(u.tls);
    front = server;
  } else front = acceptCleartext(userServer, h2, () => u.h2c === true);
  // Every user connection is tracked, those that never finish a TLS handshake too, so close() can cut them.
  const userSockets = new Set<Duplex>();
  front.on('connection', (s: Duplex) => {
    userSockets.add(s);
    s.once('close', () => userSockets.delete(s));
  });

  const agentPort = await listen(agentServer, opts.agents.host, opts.agents.port);
  const userPort = await listen(front, opts.users.host, opts.users.port);
  return {
    agentPort,
    userPort,
    counters,
    sessions: () =>
      table.sessions.map((a) => ({
        clientId: a.clientId,
        hostnames: a.hostnames,
        remote: a.remote,
        since: a.since.toISOString(),
        draining: a.draining,
        streams: a.session.stats.streams,
        rttMs: a.session.stats.rttMs,
        bytesIn: a.session.stats.bytesIn,
        bytesOut: a.session.stats.bytesOut,
        windowStalls: a.session.stats.windowStalls,
      })),
    async close() {
      const closed = Promise.all([
        new Promise<void>((r) => front.close(() => r())),
        new Promise<void>((r) => userServer.close(() => r())),
        new Promise<void>((r) => agentServer.close(() => r())),
      ]);
      h2.close();
      for (const a of table.sessions) a.session.destroy();
      for (const s of userSockets) s.destroy();
      await closed;
    },
  };
}
