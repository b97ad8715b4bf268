// ZenoIngress over HTTP/2 (RFC 9113): ALPN h2 on HTTPS listeners beside HTTP/1.1, h2c by prior
// knowledge on a cleartext listener whose Gateway asks for it, the same request path as HTTP/1.1
// (routing, forwarded headers, local replies), and a client flooding the connection with stream
// resets (CVE-2023-44487) cut with GOAWAY ENHANCE_YOUR_CALM while another client is served.
// node:http2 is the client; certificates come from the openssl CLI.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, constants } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import { request } from 'node:https';
import { connect as netConnect, createServer as netServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client as GrpcClient, Metadata, Server as GrpcServer, ServerCredentials, credentials, status as grpcStatus } from '@grpc/grpc-js';
import type { ServiceError, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Ingress, ResourceSet } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import type { EchoBackend, EchoResponse } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { SERVICE_PORT, backendYaml, gatewayYaml, httpRouteYaml, yamlStream } from '#tests/support/gateway-yaml';

const work = mkdtempSync(join(tmpdir(), 'zeno-h2-'));
const HOST = 'h2.example.com';

function certificate(cn: string): { cert: string; key: string } {
  const key = join(work, 'tls.key');
  const cert = join(work, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

const manifests = (echoPort: number, gonePort: number, grpcBackendPort: number, cutterPort: number) =>
  yamlStream(
    gatewayYaml({
      name: 'edge',
      namespace: 'web',
      gatewayClassName: 'zenokube',
      listeners: [{ name: 'tls', port: 443, protocol: 'HTTPS', hostname: HOST, tls: { certificateRefs: [{ name: 'cert' }] } }],
    }),
    gatewayYaml({ name: 'clear', namespace: 'web', gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
    gatewayYaml({ name: 'plain', namespace: 'web', gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
    httpRouteYaml({ name: 'site', namespace: 'web', gateway: 'edge', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/app' } }], backendRefs: [{ name: 'echo', port: SERVICE_PORT }] }] }),
    httpRouteYaml({
      name: 'clear',
      namespace: 'web',
      gateway: 'clear',
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/cut' } }], backendRefs: [{ name: 'cutter', port: SERVICE_PORT }] }, { backendRefs: [{ name: 'echo', port: SERVICE_PORT }] }],
    }),
    httpRouteYaml({ name: 'plain', namespace: 'web', gateway: 'plain', rules: [{ backendRefs: [{ name: 'echo', port: SERVICE_PORT }] }] }),
    gatewayYaml({ name: 'grpc', namespace: 'web', gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
    httpRouteYaml({ name: 'grpc', namespace: 'web', gateway: 'grpc', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/gone.Service' } }], backendRefs: [{ name: 'gone', port: SERVICE_PORT }] }] }),
    backendYaml('echo', 'web', echoPort),
    backendYaml('gone', 'web', gonePort),
    backendYaml('cutter', 'web', cutterPort),
    httpRouteYaml({ name: 'grpc-ok', namespace: 'web', gateway: 'grpc', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/test.Echo' } }], backendRefs: [{ name: 'grpc-backend', port: SERVICE_PORT }] }] }),
    backendYaml('grpc-backend', 'web', grpcBackendPort),
  );

const bytes = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
const ECHO_SERVICE: ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, ...bytes },
  Count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, ...bytes },
  Slow: { path: '/test.Echo/Slow', requestStream: false, responseStream: false, ...bytes },
  Missing: { path: '/test.Echo/Missing', requestStream: false, responseStream: false, ...bytes },
};

/** A gRPC server (grpc-js) of raw-byte methods: Echo, Count (streams n messages), Slow (answers after 5 s), Missing (NOT_FOUND). */
async function startGrpcBackend(): Promise<{ port: number; deadlines: (Date | number)[]; close: () => void }> {
  const server = new GrpcServer();
  const deadlines: (Date | number)[] = [];
  const impl: UntypedServiceImplementation = {
    Echo: (call: { request: Buffer; metadata: Metadata }, cb: (err: null, out: Buffer, trailer?: Metadata) => void) => {
      const trailer = new Metadata();
      trailer.set('x-trailer', 'kept');
      cb(null, Buffer.concat([Buffer.from('echo:'), call.request]), trailer);
    },
    Count: (call: { request: Buffer; write: (b: Buffer) => void; end: () => void }) => {
      for (let i = 0; i < Number(call.request.toString()); i++) call.write(Buffer.from(`n${i}`));
      call.end();
    },
    Slow: (call: { getDeadline: () => Date | number }, cb: (err: null, out: Buffer) => void) => {
      deadlines.push(call.getDeadline());
      setTimeout(() => cb(null, Buffer.from('late')), 5_000).unref();
    },
    Missing: (_call: unknown, cb: (err: { code: number; details: string }) => void) => cb({ code: grpcStatus.NOT_FOUND, details: 'no such thing' }),
  };
  server.addService(ECHO_SERVICE, impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, deadlines, close: () => server.forceShutdown() };
}

/** An HTTP/1.1 backend that sends the head and a first chunk of every answer, then drops the connection. */
async function startCutter(): Promise<{ port: number; close: () => void }> {
  const server = netServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', () => {
      sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n');
      setTimeout(() => sock.destroy(), 50);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A unary call with raw bytes as messages (no .proto needed to see the status). */
function unary(port: number, method: string): Promise<ServiceError | undefined> {
  const client = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from('ping'),
      (err) => {
        client.close();
        resolve(err ?? undefined);
      },
    );
  });
}

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function h2Request(session: ClientHttp2Session, headers: Record<string, string>, body?: string): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let head: IncomingHttpHeaders = {};
    let text = '';
    stream.on('response', (h) => {
      head = h;
      status = Number(h[':status']);
    });
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve({ status, headers: head, body: text }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

function tlsSession(port: number, ca: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(`https://${HOST}:${port}`, { ca, servername: HOST, host: '127.0.0.1', port } as never);
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

function closeSession(s: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve();
    s.close(() => resolve());
  });
}

describe('HTTP/2 to clients (RFC 9113)', () => {
  let echo: EchoBackend;
  let ingress: Ingress;
  const pair = certificate(HOST);
  let tlsPort = 0;
  let h2cPort = 0;
  let plainPort = 0;
  let grpcPort = 0;
  let grpcBackend: Awaited<ReturnType<typeof startGrpcBackend>>;
  let cutter: Awaited<ReturnType<typeof startCutter>>;

  before(async () => {
    echo = await startEcho('echo', 'web');
    grpcBackend = await startGrpcBackend();
    cutter = await startCutter();
    const set: ResourceSet = parseManifests(manifests(echo.port, await closedPort(), grpcBackend.port, cutter.port), 'h2').set;
    // The backend speaks HTTP/2 over cleartext (Gateway API's backend protocol by appProtocol).
    for (const p of set.services.find((x) => x.metadata.name === 'grpc-backend')!.spec!.ports!) p.appProtocol = 'kubernetes.io/h2c';
    set.secrets.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'cert', namespace: 'web' },
      data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
    });
    const clear = set.gateways.find((g) => g.metadata.name === 'clear')!;
    clear.metadata.annotations = { 'ingress.zenokube.io/h2c': 'true' };
    set.gateways.find((g) => g.metadata.name === 'grpc')!.metadata.annotations = { 'ingress.zenokube.io/h2c': 'true' };
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, limits: { maxPrematureResets: 50 } });
    await ingress.apply(compile(set));
    tlsPort = ingress.address('web/edge', 443)!.port;
    h2cPort = ingress.address('web/clear', 80)!.port;
    plainPort = ingress.address('web/plain', 80)!.port;
    grpcPort = ingress.address('web/grpc', 80)!.port;
  });
  after(async () => {
    await ingress.close();
    await echo.close();
    grpcBackend.close();
    cutter.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('negotiates h2 by ALPN and routes the stream like an HTTP/1.1 request, :authority as Host', async () => {
    const s = await tlsSession(tlsPort, pair.cert);
    try {
      assert.equal(s.alpnProtocol, 'h2');
      const r = await h2Request(s, { ':method': 'GET', ':path': '/app/x?q=1', ':authority': HOST, 'x-custom': 'yes' });
      assert.equal(r.status, 200);
      const echoed = JSON.parse(r.body) as EchoResponse;
      assert.equal(echoed.path, '/app/x?q=1');
      assert.equal(echoed.host, HOST);
      assert.deepEqual(echoed.headers['x-custom'], ['yes']);
      assert.deepEqual(echoed.headers['x-forwarded-proto'], ['https']);
      // No pseudo-header field goes upstream.
      assert.equal(Object.keys(echoed.headers).some((n) => n.startsWith(':')), false);
    } finally {
      await closeSession(s);
    }
  });

  it('strips connection-specific fields from the upstream response (RFC 9113 §8.2.2)', async () => {
    const s = await tlsSession(tlsPort, pair.cert);
    try {
      // The echo backend answers HTTP/1.1 with keep-alive: those fields must not reach an HTTP/2 client.
      const r = await h2Request(s, { ':method': 'GET', ':path': '/app/hop', ':authority': HOST });
      assert.equal(r.status, 200);
      for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']) assert.equal(r.headers[name], undefined, name);
    } finally {
      await closeSession(s);
    }
  });

  it('multiplexes concurrent streams with request bodies on one connection', async () => {
    const s = await tlsSession(tlsPort, pair.cert);
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h2Request(s, { ':method': 'POST', ':path': `/app/post?echo-body=1&n=${i}`, ':authority': HOST, 'content-type': 'text/plain' }, `body-${i}`)),
      );
      answers.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal((JSON.parse(r.body) as EchoResponse).body, `body-${i}`);
      });
    } finally {
      await closeSession(s);
    }
  });

  it('answers an unrouted stream with the proxy’s own problem+json, without connection fields', async () => {
    const s = await tlsSession(tlsPort, pair.cert);
    try {
      const r = await h2Request(s, { ':method': 'GET', ':path': '/elsewhere', ':authority': HOST });
      assert.equal(r.status, 404);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      assert.equal(r.headers['x-zeno-ingress'], 'route_not_found');
    } finally {
      await closeSession(s);
    }
  });

  it('refuses a Host field that names another authority than :authority with 400 (RFC 9113 §8.3.1)', async () => {
    const s = await tlsSession(tlsPort, pair.cert);
    try {
      const r = await h2Request(s, { ':method': 'GET', ':path': '/app/x', ':authority': HOST, host: 'other.example.com' });
      assert.equal(r.status, 400);
    } finally {
      await closeSession(s);
    }
  });

  it('announces its concurrent stream bound in SETTINGS', async () => {
    const s = await tlsSession(tlsPort, pair.cert);
    try {
      if (!s.remoteSettings.maxConcurrentStreams || s.remoteSettings.maxConcurrentStreams > 1000) await new Promise((r) => s.once('remoteSettings', r));
      assert.equal(s.remoteSettings.maxConcurrentStreams, 100);
    } finally {
      await closeSession(s);
    }
  });

  it('still serves HTTP/1.1 clients on the HTTPS listener (a client that offers no ALPN)', async () => {
    const r = await new Promise<{ status: number; proto: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: tlsPort, servername: HOST, ca: pair.cert, path: '/app/one', headers: { host: HOST }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, proto: (JSON.parse(body) as EchoResponse).proto }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(r.status, 200);
  });

  it('serves h2c by prior knowledge on a cleartext listener whose Gateway asks for it', async () => {
    const s = await h2cSession(h2cPort);
    try {
      const r = await h2Request(s, { ':method': 'GET', ':path': '/c', ':authority': 'clear.example.com' });
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body) as EchoResponse).host, 'clear.example.com');
    } finally {
      await closeSession(s);
    }
    // HTTP/1.1 on the same port is unchanged.
    const res = await fetch(`http://127.0.0.1:${h2cPort}/c`);
    assert.equal(res.status, 200);
    await res.text();
  });

  it('resets a stream whose upstream answer broke off mid-body with INTERNAL_ERROR, never ending it as complete (RFC 9113 §8.1)', async () => {
    const s = await h2cSession(h2cPort);
    try {
      const outcome = await new Promise<{ status: number; body: string; ended: boolean; rstCode: number | undefined }>((resolve) => {
        const stream = s.request({ ':method': 'GET', ':path': '/cut/x', ':authority': 'clear.example.com' });
        let status = 0;
        let body = '';
        let ended = false;
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (d: Buffer) => (body += d.toString()));
        stream.on('end', () => (ended = true));
        stream.on('error', () => {});
        stream.on('close', () => resolve({ status, body, ended, rstCode: stream.rstCode }));
      });
      assert.equal(outcome.status, 200, 'the head went out before the upstream broke off');
      assert.ok('first'.startsWith(outcome.body), `only what the upstream sent: ${outcome.body}`);
      assert.equal(outcome.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
      assert.equal(outcome.ended, false, 'the client saw the stream end as if the answer were whole');
    } finally {
      await closeSession(s);
    }
  });

  it('does not speak h2c on a cleartext listener that did not ask for it', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = netConnect(plainPort, '127.0.0.1', () => sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 (400|505) /);
  });

  it('closes a connection that floods stream resets with GOAWAY ENHANCE_YOUR_CALM, while another client is served (CVE-2023-44487)', { timeout: 60_000 }, async () => {
    const attacker = await tlsSession(tlsPort, pair.cert);
    const legit = await tlsSession(tlsPort, pair.cert);
    try {
      const goaway = new Promise<number>((resolve) => attacker.once('goaway', (code: number) => resolve(code)));
      attacker.on('error', () => {});
      const served = (async () => {
        let ok = 0;
        for (let i = 0; i < 20; i++) if ((await h2Request(legit, { ':method': 'GET', ':path': `/app/legit-${i}`, ':authority': HOST })).status === 200) ok++;
        return ok;
      })();
      // HEADERS then RST_STREAM(CANCEL) at once, stream after stream, never reading an answer.
      for (let i = 0; i < 1_000 && !attacker.destroyed && !attacker.closed; i++) {
        const stream = attacker.request({ ':method': 'GET', ':path': `/app/flood-${i}`, ':authority': HOST });
        stream.on('error', () => {});
        stream.close(constants.NGHTTP2_CANCEL);
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
      assert.equal(await goaway, constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.equal(await served, 20);
    } finally {
      attacker.destroy();
      await closeSession(legit);
    }
  });

  it('answers a gRPC call whose backend is down with UNAVAILABLE in grpc-status, not an HTML or JSON 503', async () => {
    const err = await unary(grpcPort, '/gone.Service/Call');
    assert.equal(err?.code, grpcStatus.UNAVAILABLE);
    assert.match(err!.details, /unavailable/);
  });

  it('answers a gRPC call no route matches with UNIMPLEMENTED', async () => {
    const err = await unary(grpcPort, '/other.Service/Call');
    assert.equal(err?.code, grpcStatus.UNIMPLEMENTED);
    // The proxy's own status (an HTTP 404 would read "Received HTTP status code 404").
    assert.match(err!.details, /no route/);
  });

  it('relays a unary gRPC call to an h2c backend, trailers included', async () => {
    const client = new GrpcClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    try {
      let out: Buffer | undefined;
      const trailer = await new Promise<Metadata>((resolve, reject) => {
        const call = client.makeUnaryRequest('/test.Echo/Echo', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('hi'), (err, value) => (err ? reject(err) : (out = value)));
        call.on('status', (s) => resolve(s.metadata));
      });
      assert.ok(out);
      assert.equal(out.toString(), 'echo:hi');
      assert.deepEqual(trailer.get('x-trailer'), ['kept']);
      const err = await unary(grpcPort, '/test.Echo/Missing');
      assert.equal(err?.code, grpcStatus.NOT_FOUND);
      assert.equal(err!.details, 'no such thing');
    } finally {
      client.close();
    }
  });

  it('relays a server-streaming gRPC call message by message', async () => {
    const client = new GrpcClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    try {
      const got = await new Promise<string[]>((resolve, reject) => {
        const out: string[] = [];
        const call = client.makeServerStreamRequest('/test.Echo/Count', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('50'));
        call.on('data', (b: Buffer) => out.push(b.toString()));
        call.on('error', reject);
        call.on('status', (s) => (s.code === grpcStatus.OK ? resolve(out) : reject(new Error(s.details))));
      });
      assert.equal(got.length, 50);
      assert.equal(got[49], 'n49');
    } finally {
      client.close();
    }
  });

  it('propagates a gRPC call’s deadline to the backend (grpc-timeout) and ends the call at it', async () => {
    const client = new GrpcClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    try {
      const err = await new Promise<ServiceError | null>((resolve) =>
        client.makeUnaryRequest('/test.Echo/Slow', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), new Metadata(), { deadline: Date.now() + 1_500 }, (e) => resolve(e)),
      );
      assert.equal(err?.code, grpcStatus.DEADLINE_EXCEEDED);
      assert.equal(grpcBackend.deadlines.length, 1);
      assert.notEqual(grpcBackend.deadlines[0], Infinity);
    } finally {
      client.close();
    }
  });
});
