// The edge: a TLS listener agents dial out to (./handshake.ts, ./agent-auth.ts), and a user-facing
// HTTP(S) listener whose requests go to the agents serving their hostnames (./edge-forward.ts).
// Sessions are kept in ./sessions.ts; a session that closes takes its hostnames with it.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import { createSession } from '#shared/yamux/index';
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
  /** Where users' requests arrive; HTTPS when `tls` is given. */
  users: { host: string; port: number; tls?: SecureContextOptions };
  check: AgentCheck;
  /** Yamux keepalive toward agents, milliseconds (default 15 000; 0: off). */
  keepAliveMs?: number;
  /** Streams one agent session may carry at once (default 4096). */
  maxStreamsPerSession?: number;
  onEvent?: (event: EdgeEvent) => void;
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

async function listen(server: Server, host: string, port: number): Promise<number> {
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

  const userOptions = { headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384, noDelay: true };
  const userServer: Server = opts.users.tls ? createHttpsServer({ ...userOptions, ...opts.users.tls }) : createHttpServer(userOptions);
  userServer.on('request', (req, res) => forwardRequest(table, counters, req, res));
  userServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => forwardUpgrade(table, counters, req, socket, head));
  userServer.on('connect', (_req: IncomingMessage, socket: Duplex) => socket.destroy());

  const agentPort = await listen(agentServer, opts.agents.host, opts.agents.port);
  const userPort = await listen(userServer, opts.users.host, opts.users.port);
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
      const closed = Promise.all([new Promise<void>((r) => userServer.close(() => r())), new Promise<void>((r) => agentServer.close(() => r()))]);
      userServer.closeIdleConnections();
      for (const a of table.sessions) a.session.destroy();
      userServer.closeAllConnections();
      await closed;
    },
  };
}
