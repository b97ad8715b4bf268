// Test support for the tunnel: an issuer (JWKS on a real socket, Ed25519 tokens), self-signed
// certificates, a backend, a site (the ingress engine on its own listener + an agent) and a TCP
// relay between agent and edge that a test can cut.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey } from 'jose';
import { compile } from '../engine/compile.js';
import { parseManifests } from '../source/parse.js';
import type { Ingress } from '../runtime.js';
import { createIngress } from '../runtime.js';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule, yamlStream } from '#tests/support/gateway-yaml';
import type { AgentOptions, TunnelAgent } from './agent.js';
import { startAgent } from './agent.js';

export interface Issuer {
  readonly url: string;
  /** Client id → secret, for the client credentials grant at `<url>/token`. */
  readonly secrets: Map<string, string>;
  sign(clientId: string, opts?: { expiresIn?: string; typ?: string; issuer?: string; sub?: string }): Promise<string>;
  close(): Promise<void>;
}

/** An issuer publishing one Ed25519 key at `<url>/jwks`, signing access tokens as ZenoAuth does. */
export async function startIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
  const secrets = new Map<string, string>();
  const server = createHttpServer((req, res) => {
    if (req.url?.endsWith('/jwks')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    if (req.url?.endsWith('/token') && req.method === 'POST') {
      // client_secret_basic (RFC 6749 §2.3.1), grant_type=client_credentials.
      const [id, secret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':').map(decodeURIComponent);
      if (!id || secrets.get(id) !== secret) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      void signToken(privateKey, url, id).then((token) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300 })));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/sites`;
  return {
    url,
    secrets,
    sign: (clientId, opts = {}) => signToken(privateKey, opts.issuer ?? url, clientId, opts),
    close: () => closeServer(server),
  };
}

/** An access token of the client credentials grant, as ZenoAuth issues it (RFC 9068). */
function signToken(key: CryptoKey, issuer: string, clientId: string, opts: { expiresIn?: string; typ?: string; sub?: string } = {}): Promise<string> {
  return new SignJWT({ client_id: clientId, scope: 'tunnel' })
    .setProtectedHeader({ alg: 'EdDSA', typ: opts.typ ?? 'at+jwt', kid: 'k1' })
    .setIssuer(issuer)
    .setSubject(opts.sub ?? clientId)
    .setAudience(issuer)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(key);
}

/** A self-signed certificate for `name` (a DNS SAN), made with openssl. */
export function certificate(name: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'zeno-tunnel-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`], { stdio: 'ignore' });
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

export interface Backend {
  readonly name: string;
  readonly port: number;
  /** Bytes the `/big` answers have handed to the socket (write() accepted) so far. */
  bigWritten: number;
  /** `/hold` requests being held. */
  readonly held: number;
  /** Answers every held `/hold` request (and those that come later) with 200 `held`. */
  release(): void;
  close(): Promise<void>;
}

/**
 * A backend answering with what it received (`/echo…`: name, method, path, headers, body digest),
 * `/big?mb=N` (N MiB, written with backpressure), `/slow?ms=N` (a first byte, then the rest later),
 * and upgrades to an echo of the bytes it gets.
 */
export async function startBackend(name: string): Promise<Backend> {
  const sockets = new Set<Duplex>();
  const state = { bigWritten: 0, released: false };
  const holding = new Set<() => void>();
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/big') {
      let left = Number(url.searchParams.get('mb') ?? 1) * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
      const pump = () => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          state.bigWritten += piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (url.pathname === '/hold') {
      const answer = () => {
        holding.delete(answer);
        res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name }).end('held');
      };
      if (state.released) return answer();
      holding.add(answer);
      res.on('close', () => holding.delete(answer));
      return;
    }
    if (url.pathname === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      res.write('first;');
      const timer = setTimeout(() => res.end('last'), Number(url.searchParams.get('ms') ?? 1000));
      res.on('close', () => clearTimeout(timer));
      return;
    }
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      size += d.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, path: req.url, headers: flatHeaders(req.headers), size, sha256: hash.digest('hex') });
      const status = Number(url.searchParams.get('status') ?? 200);
      res.writeHead(status, { 'content-type': 'application/json', 'x-backend': name, 'content-length': String(Buffer.byteLength(body)) }).end(body);
    });
  });
  server.on('upgrade', (_req, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\nx-backend: ${name}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    get bigWritten() {
      return state.bigWritten;
    },
    set bigWritten(v: number) {
      state.bigWritten = v;
    },
    get held() {
      return holding.size;
    },
    release() {
      state.released = true;
      for (const answer of [...holding]) answer();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

const GATEWAY = 'site/gw';

export interface Site {
  readonly ingress: Ingress;
  readonly backend: Backend;
  /** The site's own listener, for requests made directly. */
  readonly port: number;
  agent: TunnelAgent | undefined;
  startAgent(opts: Omit<AgentOptions, 'serve'>): TunnelAgent;
  close(): Promise<void>;
}

/** A site: a backend behind the ingress engine (a Gateway with one HTTP listener, one route to the backend). */
export async function startSite(name: string): Promise<Site> {
  const backend = await startBackend(name);
  const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 2_000 });
  const yaml = yamlStream(
    gatewayYaml({ name: 'gw', namespace: 'site', gatewayClassName: 'zenokube' }),
    httpRouteYaml({ name: 'app', namespace: 'site', gateway: 'gw', rules: [prefixRule('/', 'backend')] }),
    backendYaml('backend', 'site', backend.port),
  );
  const { set, problems } = parseManifests(yaml, 'site.yaml');
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  await ingress.apply(compile(set));
  const port = ingress.address(GATEWAY, 80)!.port;
  const site: Site = {
    ingress,
    backend,
    port,
    agent: undefined,
    startAgent(opts) {
      site.agent = startAgent({ ...opts, serve: (c) => ingress.serveConnection(GATEWAY, 80, c) });
      return site.agent;
    },
    async close() {
      await site.agent?.close();
      await ingress.close();
      await backend.close();
    },
  };
  return site;
}

export interface Relay {
  readonly port: number;
  /** Cuts every connection through the relay now (a link that dies, not a clean close). */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP relay to 127.0.0.1:`target`, standing in for the network between agent and edge. */
export async function startRelay(target: number): Promise<Relay> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createNetServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: target });
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cut = () => {
    for (const [a, b] of [...pairs]) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
  };
  return {
    port: (server.address() as AddressInfo).port,
    cut,
    close: () =>
      new Promise<void>((r) => {
        cut();
        server.close(() => r());
      }),
  };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a connection of its own, `Host` as given. */
export function send(port: number, path: string, opts: { host?: string; method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: false, setHost: false, headers: { host: opts.host ?? 'app.example.com', ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
