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

  it('keeps what a slow reader has not taken bounded on a large download, then delivers it whole', async () => {
    const MB = 64;
    site.backend.bigWritten = 0;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: edge.userPort, path: `/big?mb=${MB}`, agent: false, setHost: false, headers: { host: HOST } }, resolve).on('error', reject).end();
    });
    assert.equal(res.statusCode, 200);
    res.pause();
    // The reader takes nothing: the backend stops once every buffer on the way is full.
    let last = -1;
    let steady = 0;
    await waitUntil('the backend to stop writing', async () => {
      await new Promise((r) => setTimeout(r, 100));
      steady = site.backend.bigWritten === last ? steady + 1 : 0;
      last = site.backend.bigWritten;
      return steady >= 10;
    });
    const lead = site.backend.bigWritten;
    assert.ok(lead < MB * 1024 * 1024 / 2, `the backend wrote ${lead} bytes to a reader that took none`);
    // The agent's stream waited for the edge's window rather than buffer what the reader left.
    assert.ok(site.agent!.status()[0]!.windowStalls > 0);
    let got = 0;
    res.on('data', (d: Buffer) => {
      got += d.length;
    });
    res.resume();
    await new Promise((r) => res.on('end', r));
    assert.equal(got, MB * 1024 * 1024);
  });

  it('carries a WebSocket-style upgrade through the tunnel both ways', async () => {
    const socket = connect({ host: '127.0.0.1', port: edge.userPort });
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    await waitUntil('the 101 answer', () => Buffer.concat(got).includes('\r\n\r\n'));
    const head = Buffer.concat(got).toString();
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /x-backend: site-a/i);
    got.length = 0;
    socket.write('ping through the tunnel');
    await waitUntil('the echo', () => Buffer.concat(got).toString() === 'ping through the tunnel');
    socket.destroy();
    await waitUntil('the stream to close', () => edge.sessions().every((s) => s.streams === 0));
  });

  it('gives the backend the client address from the edge, and a listener takes no PROXY header from a client', async () => {
    const r = await send(edge.userPort, '/echo/addr', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.match(seen.headers.forwarded!, /^for=127\.0\.0\.1;host="app\.example\.com";proto=http$/);
    const socket = connect({ host: '127.0.0.1', port: site.port });
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.write(`PROXY TCP4 6.6.6.6 127.0.0.1 1234 80\r\nGET /echo HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    await new Promise((r) => socket.once('close', r));
    assert.match(Buffer.concat(got).toString(), /^HTTP\/1\.1 400 /);
  });

  it('answers 503 with a problem when no agent serves the hostname', async () => {
    const r = await send(edge.userPort, '/', { host: 'nobody.example.com' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'tunnel_unavailable');
    const missing = await send(edge.userPort, '/', { host: '' });
    assert.equal(missing.status, 400);
  });

  it('refuses an agent with a forged or expired token, and serves nothing through it', async () => {
    const forger = await startIssuer();
    const other = await startSite('site-c');
    try {
      other.startAgent({ edges: [target()], hostnames: ['other.example.com'], token: () => forger.sign('site-c', { issuer: issuer.url }), backoff: BACKOFF });
      await waitUntil('the refusal', () => other.agent!.status()[0]!.lastError === '401 invalid_token');
      assert.equal(other.agent!.status()[0]!.sessions, 0);
      assert.equal((await send(edge.userPort, '/', { host: 'other.example.com' })).status, 503);
      await other.agent!.close();
      other.startAgent({ edges: [target()], hostnames: ['other.example.com'], token: () => issuer.sign('site-c', { expiresIn: '-10m' }), backoff: BACKOFF });
      await waitUntil('the refusal', () => other.agent!.status()[0]!.lastError === '401 invalid_token');
      assert.ok(events.some((e) => e.type === 'agent-refused' && e.code === 'invalid_token'));
    } finally {
      await other.close();
      await forger.close();
    }
  });

  it('refuses an agent that claims a hostname its client may not serve', async () => {
    const other = await startSite('site-c');
    try {
      other.startAgent({ edges: [target()], hostnames: ['other.example.com', HOST], token: () => issuer.sign('site-c'), backoff: BACKOFF });
      await waitUntil('the refusal', () => other.agent!.status()[0]!.lastError === '403 hostname_not_allowed');
      assert.equal(other.agent!.status()[0]!.sessions, 0);
      for (let i = 0; i < 6; i++) assert.equal((await send(edge.userPort, '/echo')).headers['x-backend'], 'site-a');
      assert.equal((await send(edge.userPort, '/', { host: 'other.example.com' })).status, 503);
    } finally {
      await other.close();
    }
  });

  it('balances over two agents of one hostname, and fails over when one drains (GoAway, in-flight answers finish)', async () => {
    const second = await startSite('site-b');
    try {
      second.startAgent({ edges: [target()], hostnames: [HOST], token: () => issuer.sign('site-b'), backoff: BACKOFF });
      await connected(second);
      await waitUntil('two sessions at the edge', () => edge.sessions().length === 2);
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add(String((await send(edge.userPort, '/echo')).headers['x-backend']));
      assert.deepEqual([...seen].sort(), ['site-a', 'site-b']);
      // Slow answers in flight on both agents, then the second shuts down.
      const slow = [0, 1, 2, 3].map(() => send(edge.userPort, '/slow?ms=1500'));
      await waitUntil('answers in flight on both', () => edge.sessions().every((s) => s.streams > 0));
      const closing = second.agent!.close();
      await waitUntil('the edge to see the GoAway', () => events.some((e) => e.type === 'agent-draining' && e.clientId === 'site-b'));
      for (let i = 0; i < 6; i++) {
        const r = await send(edge.userPort, '/echo');
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-backend'], 'site-a');
      }
      for (const r of await Promise.all(slow)) {
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'first;last');
      }
      await closing;
      await waitUntil('one session left', () => edge.sessions().length === 1);
    } finally {
      await second.close();
    }
  });

  it('fails in-flight requests cleanly when the link dies, and serves new ones after the agent redials', async () => {
    const before = site.agent!.status()[0]!.sessions;
    const inFlight = new Promise<{ status: number; complete: boolean; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: edge.userPort, path: '/slow?ms=30000', agent: false, setHost: false, headers: { host: HOST } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
          if (body === 'first;') relay.cut();
        });
        res.on('error', () => {});
        res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete, body }));
      }).on('error', reject).end();
    });
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal(r.complete, false);
    assert.equal(r.body, 'first;');
    await waitUntil('the agent to redial', () => site.agent!.status()[0]!.state === 'connected' && site.agent!.status()[0]!.sessions > before);
    await waitUntil('the edge to hold the new session only', () => edge.sessions().length === 1);
    const after = await send(edge.userPort, '/echo/after');
    assert.equal(after.status, 200);
    assert.equal(after.headers['x-backend'], 'site-a');
  });

  it('carries 1,000 concurrent streams on one session', async () => {
    const N = 1000;
    const answers = Array.from({ length: N }, () => send(edge.userPort, '/hold'));
    await waitUntil('1,000 streams open at once', () => (edge.sessions()[0]?.streams ?? 0) >= N);
    site.backend.release();
    const all = await Promise.all(answers);
    assert.equal(all.filter((a) => a.status === 200 && a.body.toString() === 'held').length, N);
    await waitUntil('every stream to close', () => edge.sessions()[0]!.streams === 0);
  });
});
