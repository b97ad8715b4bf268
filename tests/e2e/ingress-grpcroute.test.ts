// GRPCRoute (Gateway API v1) through ZenoIngress with @grpc/grpc-js as client and backends: the
// upstream conformance cases of v1.2.1 (their manifests in tests/conformance/upstream, the Go test
// named in each title), then method matching by regular expression, filters, weights, server
// streaming, local errors as gRPC statuses, listener route kinds and ReferenceGrants.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpRequest } from 'node:http';
import { createServer as netServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client as GrpcClient, Metadata, Server as GrpcServer, ServerCredentials, credentials, status as grpcStatus } from '@grpc/grpc-js';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { CompiledConfig, EndpointSlice, Ingress, ResourceSet } from '#functions/ingress/index';
import { compile, createIngress, emptyResourceSet, parseManifests } from '#functions/ingress/index';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { waitFor } from '#tests/support/poll';

const upstreamDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'conformance', 'upstream', 'v1.2.1');
const upstream = (file: string) => readFileSync(join(upstreamDir, file), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', 'zenokube');
const NS = 'gateway-conformance-infra';
const SERVICE = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

const bytes = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
const unaryMethod = (name: string) => ({ path: `/${SERVICE}/${name}`, requestStream: false, responseStream: false, ...bytes });
const ECHO: ServiceDefinition = {
  Echo: unaryMethod('Echo'),
  EchoTwo: unaryMethod('EchoTwo'),
  EchoThree: unaryMethod('EchoThree'),
  Count: { path: `/${SERVICE}/Count`, requestStream: false, responseStream: true, ...bytes },
};
/** A second service the backends serve, for a match by service alone. */
const OTHER: ServiceDefinition = { Anything: { path: '/other.Service/Anything', requestStream: false, responseStream: false, ...bytes } };

/** What a backend answers: its name, the method called and the metadata it received. */
interface Seen {
  backend: string;
  method: string;
  metadata: Record<string, string>;
}

interface GrpcBackend {
  name: string;
  port: number;
  /** The metadata of every unary call it answered, in order. */
  calls: Record<string, string>[];
  close(): void;
}

/** A grpc-js server of GrpcEcho that answers each call with what it saw (JSON), and sends `x-backend` in its headers. */
async function startGrpcBackend(name: string): Promise<GrpcBackend> {
  const server = new GrpcServer();
  const calls: Record<string, string>[] = [];
  const seen = (method: string, md: Metadata): Buffer => {
    const metadata: Record<string, string> = {};
    for (const k of Object.keys(md.getMap())) metadata[k] = md.get(k).map(String).join(', ');
    calls.push(metadata);
    return Buffer.from(JSON.stringify({ backend: name, method, metadata } satisfies Seen));
  };
  const unary = (method: string) => (call: { metadata: Metadata; sendMetadata: (m: Metadata) => void }, cb: (err: null, out: Buffer) => void) => {
    const head = new Metadata();
    head.set('x-backend', name);
    call.sendMetadata(head);
    cb(null, seen(method, call.metadata));
  };
  const impl: UntypedServiceImplementation = {
    Echo: unary('Echo'),
    EchoTwo: unary('EchoTwo'),
    EchoThree: unary('EchoThree'),
    Count: (call: { request: Buffer; write: (b: Buffer) => void; end: () => void }) => {
      for (let i = 0; i < Number(call.request.toString()); i++) call.write(Buffer.from(`${name}:${i}`));
      call.end();
    },
  };
  server.addService(ECHO, impl);
  server.addService(OTHER, { Anything: unary('Anything') });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { name, port, calls, close: () => server.forceShutdown() };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface CallResult {
  code: number;
  details: string;
  seen: Seen | undefined;
  /** The response headers (initial metadata) the client got. */
  headers: Record<string, string>;
}

/** A unary call of GrpcEcho's `method` through the ingress, with `authority` as :authority. */
function call(port: number, method: string, opts: { metadata?: Record<string, string>; authority?: string; service?: string } = {}): Promise<CallResult> {
  const client = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure(), opts.authority ? { 'grpc.default_authority': opts.authority } : {});
  const md = new Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    let value: Buffer | undefined;
    const c = client.makeUnaryRequest(`/${opts.service ?? SERVICE}/${method}`, (b: Buffer) => b, (b: Buffer) => b, Buffer.from('{}'), md, (_err, v) => (value = v));
    c.on('metadata', (m: Metadata) => {
      for (const [k, v] of Object.entries(m.getMap())) headers[k] = String(v);
    });
    c.on('status', (s) => {
      client.close();
      resolve({ code: s.code, details: s.details, seen: value ? (JSON.parse(value.toString()) as Seen) : undefined, headers });
    });
  });
}

/** The backend a call reached, or the gRPC status name it ended with. */
async function reached(port: number, method: string, opts: Parameters<typeof call>[2] = {}): Promise<string> {
  const r = await call(port, method, opts);
  return r.code === grpcStatus.OK ? r.seen!.backend : grpcStatus[r.code]!;
}

const YAML_HEAD = 'apiVersion: gateway.networking.k8s.io/v1\n';

/** A GRPCRoute in the conformance namespace. */
function grpcRoute(name: string, spec: string): string {
  return `${YAML_HEAD}kind: GRPCRoute\nmetadata:\n  name: ${name}\n  namespace: ${NS}\nspec:\n${spec}`;
}

describe('GRPCRoute (Gateway API v1)', () => {
  const backends = new Map<string, GrpcBackend>();
  let httpEcho: EchoBackend;
  let downPort = 0;
  const running: Ingress[] = [];

  before(async () => {
    for (const name of ['grpc-infra-backend-v1', 'grpc-infra-backend-v2', 'grpc-infra-backend-v3']) backends.set(name, await startGrpcBackend(name));
    httpEcho = await startEcho('infra-backend-v1', NS);
    downPort = await closedPort();
  });
  after(async () => {
    await Promise.all(running.map((i) => i.close()));
    for (const b of backends.values()) b.close();
    await httpEcho.close();
  });

  /** The base manifests plus `files` and `extra`, every Service given an endpoint, served; returns the compiled config and the port of `gateway`'s port 80. */
  async function serve(files: string[], extra: string[] = [], gateway = 'same-namespace'): Promise<{ port: number; config: CompiledConfig; set: ResourceSet }> {
    const set = emptyResourceSet();
    for (const f of ['base/manifests.yaml', ...files]) parseManifests(upstream(f), f, set);
    for (const [i, text] of extra.entries()) {
      const { problems } = parseManifests(text, `extra-${i}`, set);
      assert.deepEqual(problems, []);
    }
    for (const svc of set.services) {
      const name = svc.metadata.name;
      const port = backends.get(name)?.port ?? (name === 'grpc-down' ? downPort : name === 'infra-backend-v1' ? httpEcho.port : undefined);
      if (port === undefined) continue;
      const slice: EndpointSlice = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-abc`, namespace: svc.metadata.namespace ?? 'default', labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
        ports: (svc.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', port, protocol: 'TCP' })),
      };
      set.endpointSlices.push(slice);
    }
    const config = compile(set);
    const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
    running.push(ingress);
    await ingress.apply(config);
    return { port: ingress.address(`${NS}/${gateway}`, 80)!.port, config, set };
  }

  const parent = (config: CompiledConfig, route: string) => config.status.grpcRoutes.get(`${NS}/${route}`)?.parents[0];
  const conditionOf = (config: CompiledConfig, route: string, type: string) => parent(config, route)?.conditions.find((c) => c.type === type);

  it('GRPCExactMethodMatching: Echo reaches v1, EchoTwo v2, and a method no rule names UNIMPLEMENTED', async () => {
    const { port, config } = await serve(['tests/grpcroute-exact-method-matching.yaml']);
    assert.equal(conditionOf(config, 'exact-matching', 'Accepted')?.status, 'True');
    assert.equal(conditionOf(config, 'exact-matching', 'ResolvedRefs')?.status, 'True');
    assert.equal(await reached(port, 'Echo'), 'grpc-infra-backend-v1');
    assert.equal(await reached(port, 'EchoTwo'), 'grpc-infra-backend-v2');
    const none = await call(port, 'EchoThree');
    assert.equal(none.code, grpcStatus.UNIMPLEMENTED);
    assert.match(none.details, /no route/);
  });

  it('GRPCRouteHeaderMatching: exact header matches, all of a match and any of the matches', async () => {
    const { port } = await serve(['tests/grpcroute-header-matching.yaml']);
    const cases: [Record<string, string>, string][] = [
      [{ version: 'one' }, 'grpc-infra-backend-v1'],
      [{ version: 'two' }, 'grpc-infra-backend-v2'],
      [{ version: 'two', color: 'orange' }, 'grpc-infra-backend-v1'],
      [{ color: 'blue' }, 'grpc-infra-backend-v1'],
      [{ color: 'green' }, 'grpc-infra-backend-v1'],
      [{ color: 'red' }, 'grpc-infra-backend-v2'],
      [{ color: 'yellow' }, 'grpc-infra-backend-v2'],
      [{ color: 'purple' }, 'UNIMPLEMENTED'],
      [{}, 'UNIMPLEMENTED'],
    ];
    for (const [metadata, expected] of cases) assert.equal(await reached(port, 'Echo', { metadata }), expected, JSON.stringify(metadata));
  });

  it('GRPCRouteListenerHostnameMatching: each listener hostname serves the routes attached to it', async () => {
    const { port } = await serve(['tests/grpcroute-listener-hostname-matching.yaml'], [], 'grpcroute-listener-hostname-matching');
    const cases: [string, string][] = [
      ['bar.com', 'grpc-infra-backend-v1'],
      ['foo.bar.com', 'grpc-infra-backend-v2'],
      ['baz.bar.com', 'grpc-infra-backend-v3'],
      ['boo.bar.com', 'grpc-infra-backend-v3'],
      ['multiple.prefixes.bar.com', 'grpc-infra-backend-v3'],
      ['multiple.prefixes.foo.com', 'grpc-infra-backend-v3'],
      ['foo.com', 'UNIMPLEMENTED'],
      ['no.matching.host', 'UNIMPLEMENTED'],
    ];
    for (const [authority, expected] of cases) assert.equal(await reached(port, 'Echo', { authority }), expected, authority);
  });

  describe('matching, filters, weights and streaming', () => {
    let port = 0;
    let config: CompiledConfig;
    before(async () => {
      ({ port, config } = await serve(
        [],
        [
          grpcRoute(
            'regex',
            `  parentRefs: [{ name: same-namespace }]
  rules:
  - matches:
    - method: { type: RegularExpression, service: 'gateway_api_conformance\\.echo_basic\\..*', method: 'Echo(Two|Three)' }
    backendRefs: [{ name: grpc-infra-backend-v2, port: 8080 }]
  - matches:
    - method: { service: other.Service }
    backendRefs: [{ name: grpc-infra-backend-v3, port: 8080 }]
  - matches:
    - method: { method: Count }
    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]
  - matches:
    - method: { service: ${SERVICE}, method: Echo }
      headers: [{ name: x-route, value: filters }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: x-set, value: by-route }]
        add: [{ name: x-added, value: one }]
        remove: [x-drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        add: [{ name: x-answered-by, value: ingress }]
    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]
  - matches:
    - method: { service: ${SERVICE}, method: Echo }
      headers: [{ name: x-route, value: zero-weight }]
    backendRefs:
    - { name: grpc-infra-backend-v1, port: 8080, weight: 1 }
    - { name: grpc-infra-backend-v2, port: 8080, weight: 0 }
  - matches:
    - method: { service: ${SERVICE}, method: Echo }
      headers: [{ name: x-route, value: split }]
    backendRefs:
    - { name: grpc-infra-backend-v1, port: 8080, weight: 1 }
    - { name: grpc-infra-backend-v3, port: 8080, weight: 1 }
  - matches:
    - method: { service: ${SERVICE}, method: Echo }
      headers: [{ name: x-route, value: down }]
    backendRefs: [{ name: grpc-down, port: 8080 }]
`,
          ),
          `apiVersion: v1\nkind: Service\nmetadata: { name: grpc-down, namespace: ${NS} }\nspec:\n  ports: [{ name: grpc, port: 8080 }]\n`,
          `${YAML_HEAD}kind: HTTPRoute\nmetadata: { name: plain, namespace: ${NS} }\nspec:\n  parentRefs: [{ name: same-namespace }]\n  rules:\n  - backendRefs: [{ name: infra-backend-v1, port: 8080 }]\n`,
        ],
      ));
    });

    it('accepts the route and resolves its references', () => {
      assert.equal(conditionOf(config, 'regex', 'Accepted')?.status, 'True');
      assert.equal(conditionOf(config, 'regex', 'ResolvedRefs')?.status, 'True');
    });

    it('matches service and method by regular expression, a service alone, and a method alone', async () => {
      assert.equal(await reached(port, 'EchoTwo'), 'grpc-infra-backend-v2');
      assert.equal(await reached(port, 'EchoThree'), 'grpc-infra-backend-v2');
      assert.equal(await reached(port, 'Anything', { service: 'other.Service' }), 'grpc-infra-backend-v3');
      // Echo with no x-route header matches no GRPCRoute rule: it goes by the HTTPRoutes as any
      // request, here to an HTTP backend whose JSON the client cannot read as a gRPC message.
      const fell = await call(port, 'Echo');
      assert.equal(fell.seen, undefined);
      assert.notEqual(fell.code, grpcStatus.UNIMPLEMENTED);
    });

    it('relays a server-streaming call matched by method alone, message by message', async () => {
      const client = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure());
      try {
        const got = await new Promise<string[]>((resolve, reject) => {
          const out: string[] = [];
          const c = client.makeServerStreamRequest(`/${SERVICE}/Count`, (b: Buffer) => b, (b: Buffer) => b, Buffer.from('20'));
          c.on('data', (b: Buffer) => out.push(b.toString()));
          c.on('error', reject);
          c.on('status', (s) => (s.code === grpcStatus.OK ? resolve(out) : reject(new Error(s.details))));
        });
        assert.equal(got.length, 20);
        assert.equal(got[0], 'grpc-infra-backend-v1:0');
        assert.equal(got[19], 'grpc-infra-backend-v1:19');
      } finally {
        client.close();
      }
    });

    it('applies RequestHeaderModifier to the metadata the backend gets and ResponseHeaderModifier to the headers the client gets', async () => {
      const r = await call(port, 'Echo', { metadata: { 'x-route': 'filters', 'x-set': 'by-client', 'x-added': 'zero', 'x-drop': 'gone' } });
      assert.equal(r.code, grpcStatus.OK, r.details);
      assert.equal(r.seen!.backend, 'grpc-infra-backend-v1');
      assert.equal(r.seen!.metadata['x-set'], 'by-route');
      assert.deepEqual(r.seen!.metadata['x-added']!.split(/,\s*/), ['zero', 'one']);
      assert.equal(r.seen!.metadata['x-drop'], undefined);
      assert.equal(r.headers['x-answered-by'], 'ingress');
      assert.equal(r.headers['x-backend'], 'grpc-infra-backend-v1');
    });

    it('never sends a call to a backend of weight 0, and splits calls between backends of equal weight', async () => {
      for (let i = 0; i < 20; i++) assert.equal(await reached(port, 'Echo', { metadata: { 'x-route': 'zero-weight' } }), 'grpc-infra-backend-v1');
      const seen = new Set<string>();
      // 60 calls at 1:1: all on one side has probability 2^-59.
      for (let i = 0; i < 60 && seen.size < 2; i++) seen.add(await reached(port, 'Echo', { metadata: { 'x-route': 'split' } }));
      assert.deepEqual([...seen].sort(), ['grpc-infra-backend-v1', 'grpc-infra-backend-v3']);
    });

    it('answers a call whose backend is down with UNAVAILABLE', async () => {
      const r = await call(port, 'Echo', { metadata: { 'x-route': 'down' } });
      assert.equal(r.code, grpcStatus.UNAVAILABLE);
      assert.match(r.details, /unavailable/);
    });

    it('leaves an HTTP request on a gRPC path to the HTTPRoutes', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: `/${SERVICE}/EchoTwo`, headers: { host: 'example.com', 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end('{}');
      });
      assert.equal(status, 200);
    });
  });

  describe('status, listener kinds and references', () => {
    const gateway = (name: string, kinds: string) =>
      `${YAML_HEAD}kind: Gateway\nmetadata: { name: ${name}, namespace: ${NS} }\nspec:\n  gatewayClassName: zenokube\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n    allowedRoutes:\n      namespaces: { from: All }\n      kinds: ${kinds}\n`;
    const simple = (name: string, gw: string, backend: string, namespace = NS) =>
      grpcRoute(name, `  parentRefs: [{ name: ${gw}, namespace: ${NS} }]\n  rules:\n  - backendRefs: [{ name: ${backend}, namespace: ${NS}, port: 8080 }]\n`).replace(`namespace: ${NS}\nspec`, `namespace: ${namespace}\nspec`);
    const grant = (name: string, kind: string) =>
      `apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: { name: ${name}, namespace: ${NS} }\nspec:\n  from: [{ group: gateway.networking.k8s.io, kind: ${kind}, namespace: gateway-conformance-app-backend }]\n  to: [{ group: '', kind: Service, name: grpc-infra-backend-v1 }]\n`;

    it('attaches a GRPCRoute only to listeners whose allowedRoutes kinds include it, and lists the kinds it supports', async () => {
      const { config, port } = await serve(
        [],
        [
          gateway('http-only', '[{ kind: HTTPRoute }]'),
          gateway('grpc-only', '[{ kind: GRPCRoute }]'),
          gateway('bad-kind', '[{ kind: GRPCRoute }, { kind: TCPRoute }]'),
          simple('to-http-only', 'http-only', 'grpc-infra-backend-v1'),
          simple('to-grpc-only', 'grpc-only', 'grpc-infra-backend-v1'),
        ],
        'grpc-only',
      );
      const refused = conditionOf(config, 'to-http-only', 'Accepted');
      assert.equal(refused?.status, 'False');
      assert.equal(refused?.reason, 'NotAllowedByListeners');
      assert.equal(conditionOf(config, 'to-grpc-only', 'Accepted')?.status, 'True');
      const listener = (gw: string) => config.status.gateways.get(`${NS}/${gw}`)!.listeners[0]!;
      assert.deepEqual(listener('http-only').supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
      assert.deepEqual(listener('grpc-only').supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' }]);
      assert.equal(listener('grpc-only').attachedRoutes, 1);
      const bad = listener('bad-kind').conditions.find((c) => c.type === 'ResolvedRefs');
      assert.equal(bad?.reason, 'InvalidRouteKinds');
      assert.equal(await reached(port, 'Echo'), 'grpc-infra-backend-v1');
      // The same-namespace listener of the base manifests takes both kinds.
      assert.deepEqual(config.status.gateways.get(`${NS}/same-namespace`)!.listeners[0]!.supportedKinds.map((k) => k.kind), ['HTTPRoute', 'GRPCRoute']);
    });

    it('reports a backend that does not exist as ResolvedRefs=False BackendNotFound', async () => {
      const { config } = await serve([], [simple('missing', 'same-namespace', 'no-such-service')]);
      assert.equal(conditionOf(config, 'missing', 'Accepted')?.status, 'True');
      const c = conditionOf(config, 'missing', 'ResolvedRefs');
      assert.equal(c?.status, 'False');
      assert.equal(c?.reason, 'BackendNotFound');
    });

    it('resolves a backend in another namespace only under a ReferenceGrant from GRPCRoute, not one from HTTPRoute', async () => {
      const withHttpGrant = await serve([], [gateway('shared', '[{ kind: GRPCRoute }]'), simple('cross', 'shared', 'grpc-infra-backend-v1', 'gateway-conformance-app-backend'), grant('for-http', 'HTTPRoute')], 'shared');
      const refused = withHttpGrant.config.status.grpcRoutes.get('gateway-conformance-app-backend/cross')?.parents[0]?.conditions.find((c) => c.type === 'ResolvedRefs');
      assert.equal(refused?.reason, 'RefNotPermitted');
      const withGrpcGrant = await serve([], [gateway('shared', '[{ kind: GRPCRoute }]'), simple('cross', 'shared', 'grpc-infra-backend-v1', 'gateway-conformance-app-backend'), grant('for-grpc', 'GRPCRoute')], 'shared');
      const resolved = withGrpcGrant.config.status.grpcRoutes.get('gateway-conformance-app-backend/cross')?.parents[0]?.conditions.find((c) => c.type === 'ResolvedRefs');
      assert.equal(resolved?.status, 'True');
      assert.equal(await reached(withGrpcGrant.port, 'Echo'), 'grpc-infra-backend-v1');
    });

    it('mirrors a call to the RequestMirror backend in h2c while the client gets the answer of its own backend', async () => {
      const { port, config } = await serve(
        [],
        [grpcRoute('mirror', `  parentRefs: [{ name: same-namespace }]\n  rules:\n  - filters:\n    - type: RequestMirror\n      requestMirror: { backendRef: { name: grpc-infra-backend-v2, port: 8080 } }\n    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]\n`)],
      );
      assert.equal(conditionOf(config, 'mirror', 'Accepted')?.status, 'True');
      const mirror = backends.get('grpc-infra-backend-v2')!;
      const r = await call(port, 'Echo', { metadata: { 'x-mirror-probe': 'one' } });
      assert.equal(r.code, grpcStatus.OK);
      assert.equal(r.seen?.backend, 'grpc-infra-backend-v1');
      const copy = await waitFor('the mirrored call', () => mirror.calls.find((m) => m['x-mirror-probe'] === 'one'));
      assert.equal(copy['x-mirror-probe'], 'one');
    });

    it('keeps answering when the RequestMirror backend is down', async () => {
      const { port } = await serve(
        [],
        [
          grpcRoute('mirror-down', `  parentRefs: [{ name: same-namespace }]\n  rules:\n  - filters:\n    - type: RequestMirror\n      requestMirror: { backendRef: { name: grpc-down, port: 8080 } }\n    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]\n`),
          `apiVersion: v1\nkind: Service\nmetadata: { name: grpc-down, namespace: ${NS} }\nspec: { ports: [{ port: 8080 }] }\n`,
        ],
      );
      for (let i = 0; i < 3; i++) assert.equal(await reached(port, 'Echo'), 'grpc-infra-backend-v1');
    });
  });
});
