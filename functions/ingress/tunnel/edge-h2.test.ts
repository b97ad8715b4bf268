// HTTP/2 from users at the edge: TLS with ALPN h2 (and http/1.1 on the same port), h2c by prior
// knowledge where the users' listener allows it, each stream carried through the tunnel as an
// HTTP/1.1 request; and hostile clients (stream floods, a body that never ends, reset floods)
// whose effects stay bounded: streams on the tunnel capped, released, and other clients served.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, constants } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { waitUntil } from '#tests/support/poll';
import { createAgentCheck } from './agent-auth.js';
import type { Edge } from './edge.js';
import { startEdge } from './edge.js';
import type { Issuer, Site } from './tunnel.test-support.js';
import { certificate, send, startIssuer, startSite } from './tunnel.test-support.js';

/** Guards against a hang only; no test asserts on time. */
const GUARD = { timeout: 120_000 };
const HOST = 'app.example.com';
const agentsCert = certificate('edge.test');
const usersCert = certificate(HOST);
const MAX_STREAMS = 20;

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': HOST, ...headers }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let answer: IncomingHttpHeaders = {};
    stream.on('response', (h) => (answer = h));
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve({ status: Number(answer[':status']), headers: answer, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

function tlsSession(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(`https://127.0.0.1:${port}`, { ca: usersCert.cert, servername: HOST });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function h2cSession(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const closeSession = (s: ClientHttp2Session) => new Promise<void>((r) => (s.closed ? r() : s.close(() => r())));

interface Echo {
  method: string;
  path: string;
  headers: Record<string, string>;
  size: number;
  sha256: string;
}

describe('tunnel edge: HTTP/2 from users', GUARD, () => {
  let issuer: Issuer;
  let tlsEdge: Edge;
  let h2cEdge: Edge;
  let plainEdge: Edge;
  let site: Site;
  const streamsAtEdge = (edge: Edge) => edge.sessions().reduce((n, s) => n + s.streams, 0);

  before(async () => {
    issuer = await startIssuer();
    const check = createAgentCheck({ issuer: issuer.url, clients: { 'site-a': [HOST] } });
    const agents = { host: '127.0.0.1', port: 0, tls: agentsCert };
    tlsEdge = await startEdge({ agents, users: { host: '127.0.0.1', port: 0, tls: usersCert, maxConcurrentStreams: MAX_STREAMS, requestTimeoutMs: 1_000 }, check });
    h2cEdge = await startEdge({ agents, users: { host: '127.0.0.1', port: 0, h2c: true }, check });
    plainEdge = await startEdge({ agents, users: { host: '127.0.0.1', port: 0 }, check });
    site = await startSite('site-a');
    const target = (edge: Edge) => ({ host: '127.0.0.1', port: edge.agentPort, tls: { ca: agentsCert.cert, servername: 'edge.test' } });
    site.startAgent({ edges: [target(tlsEdge), target(h2cEdge)], hostnames: [HOST], token: () => issuer.sign('site-a'), backoff: { initialMs: 50, maxMs: 400 } });
    await waitUntil('the agent to connect to both edges', () => site.agent!.status().every((l) => l.state === 'connected'));
  });
  after(async () => {
    await site.close();
    await tlsEdge.close();
    await h2cEdge.close();
    await plainEdge.close();
    await issuer.close();
  });

  it('serves HTTP/2 over TLS (ALPN h2) through the tunnel as the site answers HTTP/1.1 directly', async () => {
    const session = await tlsSession(tlsEdge.userPort);
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const body = 'x'.repeat(100_000);
      const cases: [string, OutgoingHttpHeaders, string | undefined, Parameters<typeof send>[2]][] = [
        ['/echo/get?x=1', { ':method': 'GET' }, undefined, {}],
        ['/echo/len', { ':method': 'POST', 'content-type': 'text/plain', 'content-length': String(body.length) }, body, { method: 'POST', body, headers: { 'content-type': 'text/plain' } }],
        // No content-length: a body of unknown length, chunked on the tunnel.
        ['/echo/nolen', { ':method': 'PUT', 'x-custom': 'v' }, 'hello', { method: 'PUT', body: 'hello', headers: { 'transfer-encoding': 'chunked', 'x-custom': 'v' } }],
        ['/echo/status?status=418', { ':method': 'GET' }, undefined, {}],
      ];
      for (const [path, headers, h2Body, direct] of cases) {
        const [a, b] = await Promise.all([send(site.port, path, direct), h2Request(session, { ':path': path, ...headers }, h2Body)]);
        assert.equal(b.status, a.status, path);
        assert.equal(b.headers['content-type'], a.headers['content-type']);
        assert.equal(b.headers['transfer-encoding'], undefined);
        const x = JSON.parse(a.body.toString()) as Echo;
        const y = JSON.parse(b.body.toString()) as Echo;
        assert.deepEqual([y.method, y.path, y.size, y.sha256, y.headers.host, y.headers['x-custom']], [x.method, x.path, x.size, x.sha256, x.headers.host, x.headers['x-custom']], path);
      }
      // Streams of one connection in parallel, each its own tunnel stream.
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => h2Request(session, { ':method': 'GET', ':path': `/echo/p${i}` })));
      const bad = many.filter((r) => r.status !== 200 || r.body.length === 0);
      assert.deepEqual(bad.map((r) => [r.status, r.headers, r.body.toString()]), []);
      assert.deepEqual(many.map((r) => (JSON.parse(r.body.toString()) as Echo).path), many.map((_, i) => `/echo/p${i}`));
    } finally {
      await closeSession(session);
    }
  });

  it('still serves HTTP/1.1 on the TLS port to a client that offers only it', async () => {
    const answer = await new Promise<{ status: number; alpn: unknown; body: string }>((resolve, reject) => {
      httpsRequest({ host: '127.0.0.1', port: tlsEdge.userPort, ...({ ALPNProtocols: ['http/1.1'] } as object), path: '/echo/h1', ca: usersCert.cert, servername: HOST, headers: { host: HOST }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, alpn: (res.socket as unknown as { alpnProtocol: unknown }).alpnProtocol, body }));
      }).on('error', reject).end();
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.alpn, 'http/1.1');
    assert.equal((JSON.parse(answer.body) as Echo).path, '/echo/h1');
  });

  it('serves h2c by prior knowledge where the users listener allows it, HTTP/1.1 beside it', async () => {
    const session = await h2cSession(h2cEdge.userPort);
    try {
      const r = await h2Request(session, { ':method': 'POST', ':path': '/echo/h2c', 'content-length': '3' }, 'abc');
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body.toString()) as Echo).size, 3);
    } finally {
      await closeSession(session);
    }
    assert.equal((await send(h2cEdge.userPort, '/echo/h1')).status, 200);
  });

  it('does not speak h2c on a cleartext users listener that did not ask for it', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = netConnect(plainEdge.userPort, '127.0.0.1', () => sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 (400|505) /);
  });

  it('answers 503 on HTTP/2 when no agent serves the hostname, and 400 for an :authority that disagrees with Host', async () => {
    const session = await tlsSession(tlsEdge.userPort);
    try {
      const none = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'nobody.example.com' });
      assert.equal(none.status, 503);
      assert.equal((JSON.parse(none.body.toString()) as { code: string }).code, 'tunnel_unavailable');
      const mixed = await h2Request(session, { ':method': 'GET', ':path': '/', host: 'other.example.com' });
      assert.equal(mixed.status, 400);
    } finally {
      await closeSession(session);
    }
  });

  it('never puts more than maxConcurrentStreams of one connection on the tunnel, serves others meanwhile, and finishes them all', async () => {
    const flooder = await tlsSession(tlsEdge.userPort);
    const other = await tlsSession(tlsEdge.userPort);
    try {
      const held = Array.from({ length: 200 }, (_, i) => h2Request(flooder, { ':method': 'GET', ':path': `/hold?i=${i}` }));
      await waitUntil('the first streams to reach the backend', () => site.backend.held === MAX_STREAMS);
      // Another client on another connection is served while the flood is held.
      for (let i = 0; i < 5; i++) assert.equal((await h2Request(other, { ':method': 'GET', ':path': `/echo/other-${i}` })).status, 200);
      assert.equal(site.backend.held, MAX_STREAMS);
      assert.ok(streamsAtEdge(tlsEdge) <= MAX_STREAMS, `${streamsAtEdge(tlsEdge)} tunnel streams`);
      site.backend.release();
      const answers = await Promise.all(held);
      assert.ok(answers.every((a) => a.status === 200 && a.body.toString() === 'held'));
      await waitUntil('the tunnel streams to be released', () => streamsAtEdge(tlsEdge) === 0);
    } finally {
      await closeSession(flooder);
      await closeSession(other);
    }
  });

  it('answers 408 to a stream whose body never ends and releases its tunnel stream, the connection still serving others', async () => {
    const session = await tlsSession(tlsEdge.userPort);
    try {
      const endless = session.request({ ':method': 'POST', ':path': '/echo/endless', ':authority': HOST });
      endless.on('error', () => {});
      endless.write('never ending');
      const timedOut = new Promise<{ status: number; body: string }>((resolve) => {
        let status = 0;
        let body = '';
        endless.on('response', (h) => (status = Number(h[':status'])));
        endless.on('data', (d: Buffer) => (body += d.toString()));
        endless.on('close', () => resolve({ status, body }));
      });
      await waitUntil('the endless stream to be on the tunnel', () => streamsAtEdge(tlsEdge) === 1);
      assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/echo/beside' })).status, 200);
      const answer = await timedOut;
      assert.equal(answer.status, 408);
      assert.equal((JSON.parse(answer.body) as { code: string }).code, 'request_timeout');
      await waitUntil('the tunnel stream to be released', () => streamsAtEdge(tlsEdge) === 0);
      assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/echo/after' })).status, 200);
    } finally {
      await closeSession(session);
    }
  });

  it('lets an answer take longer than the request deadline: only a body still arriving is bounded', async () => {
    const session = await tlsSession(tlsEdge.userPort);
    try {
      const slow = await h2Request(session, { ':method': 'GET', ':path': '/slow?ms=1500' });
      assert.equal(slow.status, 200);
      assert.equal(slow.body.toString(), 'first;last');
    } finally {
      await closeSession(session);
    }
  });

  it('resets the tunnel stream of an HTTP/2 download the client cancels, and the site stops sending', async () => {
    const session = await tlsSession(tlsEdge.userPort);
    try {
      site.backend.bigWritten = 0;
      const stream = session.request({ ':method': 'GET', ':path': '/big?mb=64', ':authority': HOST });
      stream.on('error', () => {});
      await new Promise((r) => stream.once('data', r));
      stream.close(constants.NGHTTP2_CANCEL);
      await waitUntil('the tunnel stream to be released', () => streamsAtEdge(tlsEdge) === 0);
      // The backend stops (the count holds between two looks), far short of 64 MiB: windows and socket buffers only.
      let last = -1;
      await waitUntil('the backend to stop writing', async () => {
        const now = site.backend.bigWritten;
        const stopped = now === last;
        last = now;
        if (!stopped) await new Promise((r) => setTimeout(r, 100));
        return stopped;
      });
      assert.ok(last < 16 * 1024 * 1024, `${last} bytes written`);
    } finally {
      await closeSession(session);
    }
  });

  it('closes a connection that floods stream resets with GOAWAY ENHANCE_YOUR_CALM, releases its tunnel streams, and serves another client (CVE-2023-44487)', async () => {
    const attacker = await tlsSession(tlsEdge.userPort);
    const legit = await tlsSession(tlsEdge.userPort);
    try {
      const goaway = new Promise<number>((resolve) => attacker.once('goaway', (code: number) => resolve(code)));
      attacker.on('error', () => {});
      const served = (async () => {
        const statuses: string[] = [];
        for (let i = 0; i < 20; i++) {
          const r = await h2Request(legit, { ':method': 'GET', ':path': `/echo/legit-${i}` });
          statuses.push(`${r.status}${r.status === 200 ? '' : ` ${r.body.toString()}`}`);
        }
        return statuses;
      })();
      // HEADERS then RST_STREAM(CANCEL) at once, stream after stream, never reading an answer.
      for (let i = 0; i < 1_000 && !attacker.destroyed && !attacker.closed; i++) {
        const stream = attacker.request({ ':method': 'GET', ':path': `/echo/flood-${i}`, ':authority': HOST });
        stream.on('error', () => {});
        stream.close(constants.NGHTTP2_CANCEL);
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
      assert.equal(await goaway, constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.deepEqual(await served, Array(20).fill('200'));
      await waitUntil('the tunnel streams to be released', () => streamsAtEdge(tlsEdge) === 0);
    } finally {
      attacker.destroy();
      await closeSession(legit);
    }
  });
});
