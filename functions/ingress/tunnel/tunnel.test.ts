// Tunnel mode end to end on real sockets: an edge, sites (backend + ingress engine + agent) that
// dial out to it over TLS through a relay that can cut the link, and users' requests routed back
// through Yamux streams.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { waitUntil } from '#tests/support/poll';
import { createAgentCheck } from './agent-auth.js';
import type { Edge, EdgeEvent } from './edge.js';
import { startEdge } from './edge.js';
import type { Issuer, Relay, Site } from './tunnel.test-support.js';
import { certificate, send, startIssuer, startRelay, startSite } from './tunnel.test-support.js';

/** Guards against a hang only; no test asserts on time. */
const GUARD = { timeout: 120_000 };
const HOST = 'app.example.com';
const edgeCert = certificate('edge.test');
const BACKOFF = { initialMs: 50, maxMs: 400 };

describe('tunnel mode (edge and agents on real sockets)', GUARD, () => {
  let issuer: Issuer;
  let edge: Edge;
  let relay: Relay;
  let site: Site;
  const events: EdgeEvent[] = [];

  const target = () => ({ host: '127.0.0.1', port: relay.port, tls: { ca: edgeCert.cert, servername: 'edge.test' } });
  const connected = (s: Site, sessions = 1) => waitUntil('the agent to connect', () => s.agent!.status().every((l) => l.state === 'connected' && l.sessions >= sessions));

  before(async () => {
    issuer = await startIssuer();
    edge = await startEdge({
      agents: { host: '127.0.0.1', port: 0, tls: edgeCert },
      users: { host: '127.0.0.1', port: 0 },
      check: createAgentCheck({ issuer: issuer.url, clients: { 'site-a': [HOST, '*.wild.example.com'], 'site-b': [HOST], 'site-c': ['other.example.com'] } }),
      onEvent: (e) => events.push(e),
    });
    relay = await startRelay(edge.agentPort);
    site = await startSite('site-a');
    site.startAgent({ edges: [target()], hostnames: [HOST, '*.wild.example.com'], token: () => issuer.sign('site-a'), backoff: BACKOFF });
    await connected(site);
  });
  after(async () => {
    await site.close();
    await relay.close();
    await edge.close();
    await issuer.close();
  });

  it('answers through the tunnel as the site answers directly', async () => {
    const cases: [string, { method?: string; body?: string; headers?: Record<string, string>; host?: string }][] = [
      ['/echo/a?x=1', {}],
      ['/echo/post', { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } }],
      ['/echo/chunked', { method: 'PUT', body: 'hello', headers: { 'transfer-encoding': 'chunked', 'x-custom': 'v' } }],
      ['/echo/status?status=418', {}],
      ['/echo/wild', { host: 'a.wild.example.com' }],
    ];
    for (const [path, opts] of cases) {
      const direct = await send(site.port, path, opts);
      const tunnelled = await send(edge.userPort, path, opts);
      assert.equal(tunnelled.status, direct.status, path);
      assert.equal(tunnelled.headers['content-type'], direct.headers['content-type']);
      const a = JSON.parse(direct.body.toString()) as { headers: Record<string, string> };
      const b = JSON.parse(tunnelled.body.toString()) as { headers: Record<string, string> };
      // The request id is new per request; everything else the backend saw is the same.
      delete a.headers['x-request-id'];
      delete b.headers['x-request-id'];
      assert.deepEqual(b, a, path);
    }
  });
});
