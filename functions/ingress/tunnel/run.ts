// The tunnel's processes: `runEdge` (the edge, from its configuration file) and `runAgent` (an agent
// beside an ingress engine, the directory mode's or the in-cluster one's, serving tunnel streams as
// the named gateway listener), each with an admin port (/status for `zenokube ingress tunnel
// status`, /metrics, /healthz, /readyz).
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import type { Logger } from '#shared/log/index';
import { startAdmin } from '../admin.js';
import type { AdminServer } from '../admin.js';
import type { Ingress } from '../runtime.js';
import { startAgent } from './agent.js';
import type { TunnelAgent } from './agent.js';
import { createAgentCheck } from './agent-auth.js';
import { clientCredentialsToken } from './client-credentials.js';
import { ConfigError, loadAgentConfig, loadEdgeConfig, readOptional, splitAddress } from './config.js';
import { startEdge } from './edge.js';
import type { Edge } from './edge.js';
import { registerTunnelMetrics } from './metrics.js';

export { ConfigError } from './config.js';
// The files' checks, for tests of the shipped manifests that carry them.
export { loadAgentConfig, loadEdgeConfig } from './config.js';
// The parts, for benchmarks and embedders that wire an edge or an agent themselves.
export { startEdge } from './edge.js';
export { startAgent } from './agent.js';
export { createAgentCheck } from './agent-auth.js';

interface Running {
  readonly admin: AdminServer | undefined;
  close(): Promise<void>;
}

export async function runEdge(file: string, log: Logger): Promise<Running & { edge: Edge }> {
  const c = loadEdgeConfig(file);
  const agents = splitAddress(c.agents.listen);
  const users = splitAddress(c.users.listen);
  const clientCa = readOptional(c.agents.clientCaFile);
  const edge = await startEdge({
    agents: { ...agents, tls: { cert: readFileSync(c.agents.certFile, 'utf8'), key: readFileSync(c.agents.keyFile, 'utf8'), ...(clientCa ? { ca: clientCa, requestCert: true } : {}) } },
    users: {
      ...users,
      ...(c.users.certFile && c.users.keyFile ? { tls: { cert: readFileSync(c.users.certFile, 'utf8'), key: readFileSync(c.users.keyFile, 'utf8') } } : {}),
      ...(c.users.h2c !== undefined ? { h2c: c.users.h2c } : {}),
      ...(c.users.maxConcurrentStreams !== undefined ? { maxConcurrentStreams: c.users.maxConcurrentStreams } : {}),
      ...(c.users.requestTimeoutSeconds !== undefined ? { requestTimeoutMs: c.users.requestTimeoutSeconds * 1000 } : {}),
    },
    check: createAgentCheck({ issuer: c.issuer, jwksUrl: c.jwksUrl, audience: c.audience, clients: c.clients }),
    keepAliveMs: (c.keepAliveSeconds ?? 15) * 1000,
    onEvent: (e) => {
      if (e.type === 'agent-refused') log.warn('tunnel agent refused', { code: e.code, remote: e.remote });
      else log.info(`tunnel ${e.type}`, { ...e });
    },
  });
  const registry = new Registry();
  const links = () => edge.sessions().map((s) => ({ peer: s.clientId, connected: true, ...s }));
  registerTunnelMetrics(registry, 'edge', links, () => edge.counters);
  const admin = c.admin ? await startAdmin({ ...splitAddress(c.admin), registry, status: () => ({ side: 'edge', counters: edge.counters, sessions: edge.sessions() }), ready: () => true }) : undefined;
  log.info('tunnel edge running', { agentPort: edge.agentPort, userPort: edge.userPort });
  return {
    edge,
    admin,
    async close() {
      await edge.close();
      await admin?.close();
    },
  };
}

export async function runAgent(file: string, ingress: Ingress, log: Logger): Promise<Running & { agent: TunnelAgent }> {
  const c = loadAgentConfig(file);
  const [gateway, port] = [c.listener.slice(0, c.listener.lastIndexOf(':')), Number(c.listener.slice(c.listener.lastIndexOf(':') + 1))];
  // No list in the file: the hostnames of the listener's routes, registered again when they change.
  const fromRoutes = () => ingress.hostnames(gateway, port);
  const hostnames = c.hostnames ?? fromRoutes();
  if (hostnames === undefined) throw new ConfigError(file, [`hostnames: none listed, and ${c.listener} serves any hostname (a route or listener without hostnames) or no such listener is served: list them`]);
  if (hostnames.length === 0) throw new ConfigError(file, [`hostnames: none listed, and no route of ${c.listener} names a hostname`]);
  const agent = startAgent({
    edges: c.edges.map((e) => ({
      ...splitAddress(e.address),
      tls: { ...(e.caFile ? { ca: readFileSync(e.caFile, 'utf8') } : {}), ...(e.servername ? { servername: e.servername } : {}), ...(e.certFile && e.keyFile ? { cert: readFileSync(e.certFile, 'utf8'), key: readFileSync(e.keyFile, 'utf8') } : {}) },
    })),
    hostnames,
    token: clientCredentialsToken({ tokenUrl: c.token.url, clientId: c.token.clientId, clientSecret: readFileSync(c.token.clientSecretFile, 'utf8').trim(), resource: c.token.resource }),
    serve: (connection) => ingress.serveConnection(gateway, port, connection),
    keepAliveMs: (c.keepAliveSeconds ?? 15) * 1000,
    onEvent: (e) => {
      if (e.type === 'dial-failed') log.warn('tunnel dial failed', { edge: e.edge, error: e.error.message, retryInMs: Math.round(e.retryInMs) });
      else if (e.type === 'register-failed') log.warn('tunnel hostnames not registered; the previous ones stay', { edge: e.edge, error: e.error.message, retryInMs: Math.round(e.retryInMs) });
      else if (e.type === 'registered') log.info('tunnel hostnames registered', { edge: e.edge, hostnames: e.hostnames });
      else log.info(`tunnel ${e.type}`, { edge: e.edge, ...(e.type === 'disconnected' && e.error ? { error: e.error.message } : {}) });
    },
  });
  const unsubscribe = c.hostnames
    ? undefined
    : ingress.onApplied(() => {
        const next = fromRoutes();
        if (next && next.length > 0) agent.setHostnames(next);
        else log.warn('tunnel hostnames unchanged: the listener now serves any hostname or none', { listener: c.listener, registered: agent.hostnames() });
      });
  const registry = new Registry();
  registerTunnelMetrics(registry, 'agent', () => agent.status().map((l) => ({ peer: l.edge, connected: l.state === 'connected', ...l })));
  const admin = c.admin ? await startAdmin({ ...splitAddress(c.admin), registry, status: () => ({ side: 'agent', links: agent.status() }), ready: () => agent.status().some((l) => l.state === 'connected') }) : undefined;
  return {
    agent,
    admin,
    async close() {
      // GoAway first, so the edge sends no new stream, then the engine drains what is in flight.
      unsubscribe?.();
      await agent.close();
      await admin?.close();
    },
  };
}
