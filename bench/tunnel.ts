// Yamux benchmark (the tunnel's transport), runnable alone:
//   node --conditions=development --import tsx bench/tunnel.ts
// Same process, same run, rounds interleaved (baseline, yamux, baseline, yamux):
//  1. bulk throughput of one Yamux stream against the raw socket it runs on, over TCP and over
//     TLS (goal: >= 0.8x of raw TLS);
//  2. small request/response round trips, a new stream per request (as the tunnel opens one per
//     HTTP request), against the same exchange on one raw connection per worker, at 1 and 50
//     in flight: requests/s and p99, as ratios;
//  3. HTTP through the whole tunnel (client -> edge -> TLS + Yamux -> agent -> ingress engine ->
//     backend) against the same requests proxied directly by the same ingress listener (client ->
//     ingress -> backend), keep-alive clients at 1 and 50 in flight: requests/s and p99, as ratios
//     (goal: >= 0.6x requests/s).
// Both ends run in this process, so a figure is the cost of both sides of the link.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createSession } from '#shared/yamux/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { createAgentCheck, startAgent, startEdge } from '#functions/ingress/tunnel/run';
import { backendYaml, gatewayYaml, httpRouteYaml, yamlStream } from '#tests/support/gateway-yaml';
import type { YamuxSession, YamuxStream } from '#shared/yamux/index';

const line = (s: string) => process.stdout.write(s + '\n');
const BULK = Number(process.env.BENCH_BULK_MB ?? 256) * 1024 * 1024;
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 4000);

interface Pair { client: Duplex; server: Duplex; close(): void }

async function tcpPair(): Promise<Pair> {
  const srv = createServer({ noDelay: true });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
  await once(client, 'connect');
  const [server] = await accepted;
  srv.close();
  return { client, server, close: () => (client.destroy(), server.destroy()) };
}

async function tlsPair(cert: { key: Buffer; cert: Buffer }): Promise<Pair> {
  const srv = tls.createServer({ key: cert.key, cert: cert.cert });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const client = tls.connect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', ca: cert.cert, servername: 'localhost' });
  await once(client, 'secureConnect');
  const [server] = await accepted;
  client.setNoDelay(true);
  server.setNoDelay(true);
  srv.close();
  return { client, server, close: () => (client.destroy(), server.destroy()) };
}

function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'yamux-bench-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sessions(pair: Pair): { client: YamuxSession; server: YamuxSession } {
  return { client: createSession(pair.client, { side: 'client', keepAliveInterval: 0 }), server: createSession(pair.server, { side: 'server', keepAliveInterval: 0 }) };
}

/** Writes `total` bytes into `from` (respecting backpressure) and times their arrival at `to`. */
async function pump(from: Duplex, to: Duplex, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const start = performance.now();
  const done = new Promise<void>((resolve) => {
    let got = 0;
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= total) {
        to.off('data', onData);
        resolve();
      }
    };
    to.on('data', onData);
  });
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!from.write(chunk)) await once(from, 'drain');
  }
  await done;
  return (total / (1024 * 1024)) / ((performance.now() - start) / 1000);
}

async function bulk(label: string, makePair: () => Promise<Pair>): Promise<void> {
  const raw: number[] = [];
  const mux: number[] = [];
  for (let round = 0; round < 2; round++) {
    const a = await makePair();
    raw.push(await pump(a.client, a.server, BULK));
    a.close();
    const b = await makePair();
    const { client, server } = sessions(b);
    const accepted = server.accept();
    const stream = client.open();
    stream.write(Buffer.alloc(1));
    const peer = await accepted;
    peer.read();
    mux.push(await pump(stream, peer, BULK));
    b.close();
  }
  const best = (xs: number[]) => Math.max(...xs);
  line(`bulk ${label}: raw ${best(raw).toFixed(0)} MB/s, one yamux stream ${best(mux).toFixed(0)} MB/s, ratio ${(best(mux) / best(raw)).toFixed(2)}x (best of 2 interleaved rounds, ${BULK / 1024 / 1024} MiB each)`);
}

const REQUEST = Buffer.alloc(64, 0x71);
const ANSWER = Buffer.alloc(64, 0x61);

/** Round trips on raw connections: one connection per worker, a request, then its answer. */
async function rawRoundTrips(concurrency: number): Promise<number[]> {
  const pairs = await Promise.all(Array.from({ length: concurrency }, () => tcpPair()));
  for (const p of pairs) p.server.on('data', () => p.server.write(ANSWER));
  const times: number[] = [];
  await Promise.all(pairs.map(async (p) => {
    for (let i = 0; i < ROUND_TRIPS / concurrency; i++) {
      const t = performance.now();
      const answered = once(p.client, 'data');
      p.client.write(REQUEST);
      await answered;
      times.push(performance.now() - t);
    }
  }));
  pairs.forEach((p) => p.close());
  return times;
}

/** Round trips through one session: a new stream per request, closed after its answer. */
async function muxRoundTrips(concurrency: number): Promise<number[]> {
  const pair = await tcpPair();
  const { client, server } = sessions(pair);
  server.on('stream', (s: YamuxStream) => {
    s.once('data', () => s.end(ANSWER));
    s.on('end', () => {});
    s.resume();
  });
  const times: number[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < ROUND_TRIPS / concurrency; i++) {
      const t = performance.now();
      const s = client.open();
      s.end(REQUEST);
      const answered = once(s, 'data');
      s.resume();
      await answered;
      times.push(performance.now() - t);
    }
  }));
  pair.close();
  return times;
}

interface Summary { rps: number; p50: number; p99: number; /** Requests per second of this process's CPU time (user + system): steadier than rps on a loaded machine. */ cpuRps?: number }

function summarize(times: number[], wallMs: number): Summary {
  const sorted = [...times].sort((a, b) => a - b);
  return { rps: times.length / (wallMs / 1000), p50: sorted[Math.floor(sorted.length * 0.5)]!, p99: sorted[Math.floor(sorted.length * 0.99)]! };
}

async function roundTrips(concurrency: number): Promise<void> {
  const raw: Summary[] = [];
  const mux: Summary[] = [];
  for (let round = 0; round < 2; round++) {
    let t = performance.now();
    const r = await rawRoundTrips(concurrency);
    raw.push(summarize(r, performance.now() - t));
    t = performance.now();
    const m = await muxRoundTrips(concurrency);
    mux.push(summarize(m, performance.now() - t));
  }
  const best = (xs: Summary[]) => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const [r, m] = [best(raw), best(mux)];
  line(`round trips, ${concurrency} in flight: raw connection ${Math.round(r.rps)} req/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms; stream per request ${Math.round(m.rps)} req/s p50 ${m.p50.toFixed(2)} ms p99 ${m.p99.toFixed(2)} ms; ratio ${(m.rps / r.rps).toFixed(2)}x req/s, p50 ${(m.p50 / r.p50).toFixed(2)}x, p99 ${(m.p99 / r.p99).toFixed(2)}x`);
}

const HTTP_REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 4000);
const HOST = 'app.bench.test';

/** A backend, the ingress in front of it, an edge and an agent serving the ingress through it. */
async function tunnelSetup(cert: { key: Buffer; cert: Buffer }) {
  const body = Buffer.alloc(256, 0x62);
  const backend = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) }).end(body));
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const yaml = yamlStream(
    gatewayYaml({ name: 'gw', namespace: 'bench' }),
    httpRouteYaml({ name: 'all', namespace: 'bench', gateway: 'gw', rules: [{ backendRefs: [{ name: 'backend', port: 8080 }] }] }),
    backendYaml('backend', 'bench', (backend.address() as AddressInfo).port),
  );
  const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
  await ingress.apply(compile(parseManifests(yaml, 'bench').set));
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const issuer = 'https://id.bench.test/auth/sites';
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' }] });
  const token = await new SignJWT({ client_id: 'site' }).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' }).setIssuer(issuer).setSubject('site').setExpirationTime('1h').sign(privateKey);
  const edge = await startEdge({
    agents: { host: '127.0.0.1', port: 0, tls: { key: cert.key, cert: cert.cert } },
    users: { host: '127.0.0.1', port: 0 },
    check: createAgentCheck({ issuer, keys, clients: { site: [HOST] } }),
    keepAliveMs: 0,
  });
  const agent = startAgent({
    edges: [{ host: '127.0.0.1', port: edge.agentPort, tls: { ca: cert.cert, servername: 'localhost' } }],
    hostnames: [HOST],
    token: async () => token,
    serve: (c) => ingress.serveConnection('bench/gw', 80, c),
    keepAliveMs: 0,
  });
  while (agent.status()[0]!.state !== 'connected') await new Promise((r) => setTimeout(r, 20));
  return {
    direct: ingress.address('bench/gw', 80)!.port,
    tunnel: edge.userPort,
    async close() {
      await agent.close();
      await edge.close();
      await ingress.close();
      backend.close();
    },
  };
}

/** `HTTP_REQUESTS` GETs to 127.0.0.1:`port` from keep-alive connections, `concurrency` in flight. */
async function httpLoad(port: number, concurrency: number): Promise<Summary> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const times: number[] = [];
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const t = performance.now();
      httpRequest({ host: '127.0.0.1', port, path: '/x', agent, headers: { host: HOST } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        res.resume();
        res.on('end', () => {
          times.push(performance.now() - t);
          resolve();
        });
      }).on('error', reject).end();
    });
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < HTTP_REQUESTS / concurrency; i++) await get();
  }));
  const used = process.cpuUsage(cpu);
  const summary = { ...summarize(times, performance.now() - start), cpuRps: times.length / ((used.user + used.system) / 1e6) };
  agent.destroy();
  return summary;
}

async function httpThroughTunnel(setup: { direct: number; tunnel: number }, concurrency: number): Promise<void> {
  // A warm-up of each path (connections, JIT), then interleaved rounds.
  await httpLoad(setup.direct, concurrency);
  await httpLoad(setup.tunnel, concurrency);
  const direct: Summary[] = [];
  const tunnel: Summary[] = [];
  for (let round = 0; round < 2; round++) {
    direct.push(await httpLoad(setup.direct, concurrency));
    tunnel.push(await httpLoad(setup.tunnel, concurrency));
  }
  const best = (xs: Summary[]) => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const [d, t] = [best(direct), best(tunnel)];
  const cpuBest = (xs: Summary[]) => Math.max(...xs.map((x) => x.cpuRps!));
  line(`HTTP, ${concurrency} in flight: direct through the ingress ${Math.round(d.rps)} req/s p99 ${d.p99.toFixed(2)} ms; through the tunnel (edge + agent + the same ingress) ${Math.round(t.rps)} req/s p99 ${t.p99.toFixed(2)} ms; ratio ${(t.rps / d.rps).toFixed(2)}x req/s, p99 ${(t.p99 / d.p99).toFixed(2)}x; per CPU second ${Math.round(cpuBest(direct))} vs ${Math.round(cpuBest(tunnel))}, ratio ${(cpuBest(tunnel) / cpuBest(direct)).toFixed(2)}x`);
}

// BENCH_PARTS picks parts (bulk, rt, http; default all), e.g. to profile one alone.
const parts = new Set((process.env.BENCH_PARTS ?? 'bulk,rt,http').split(','));
line(`yamux bench (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
const cert = selfSigned();
if (parts.has('bulk')) {
  await bulk('over TCP', tcpPair);
  await bulk('over TLS', () => tlsPair(cert));
}
if (parts.has('rt')) {
  await roundTrips(1);
  await roundTrips(50);
}
if (parts.has('http')) {
  const setup = await tunnelSetup(cert);
  await httpThroughTunnel(setup, 1);
  await httpThroughTunnel(setup, 50);
  await setup.close();
}
line(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
