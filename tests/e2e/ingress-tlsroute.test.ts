// TLSRoute (Gateway API v1alpha2) through ZenoIngress's TLS passthrough: the upstream conformance
// cases of v1.2.1 (their manifests in tests/conformance/upstream, the Go test named in each title)
// with real TLS backends made with node's tls, then routing by server name, listener checks, and
// hostile clients (a hello that never ends, one too large, garbage, resets) beside a legitimate
// client that must keep every connection.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as netConnect, createServer as netServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import type { Server as TlsServer } from 'node:tls';
import type { CompiledConfig, EndpointSlice, Ingress, IngressOptions, ResourceSet } from '#functions/ingress/index';
import { compile, createIngress, emptyResourceSet, parseManifests } from '#functions/ingress/index';
import type { Pem } from '#tests/support/certificates';
import { certificateAuthority, serverCertificate } from '#tests/support/certificates';

const upstreamDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'conformance', 'upstream', 'v1.2.1');
const upstream = (file: string) => readFileSync(join(upstreamDir, file), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', 'zenokube');
const NS = 'gateway-conformance-infra';

interface Backend {
  name: string;
  port: number;
  server: TlsServer;
}

/** A TLS server that greets each connection with its name and the server name it was asked for, then echoes. */
async function startTlsBackend(name: string, pem: Pem): Promise<Backend> {
  const server = tlsServer({ cert: pem.cert, key: pem.key }, (s) => {
    s.on('error', () => s.destroy());
    s.write(`${name} ${s.servername || '-'}\n`);
    s.on('data', (d: Buffer) => s.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { name, port: (server.address() as AddressInfo).port, server };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

type Outcome = { ok: true; greeting: string; echo: string; cn: string } | { ok: false; code: string };

/** Connects through the passthrough port with `servername`, trusting only `ca`; the greeting, an echo and the backend certificate's CN. */
function tlsExchange(port: number, servername: string | undefined, ca: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : { checkServerIdentity: () => undefined }) });
    let text = '';
    s.on('secureConnect', () => s.write('ping\n'));
    s.on('data', (d: Buffer) => {
      text += d.toString();
      const lines = text.split('\n');
      if (lines.length < 3) return;
      const cn = s.getPeerCertificate().subject?.CN as string;
      s.end();
      resolve({ ok: true, greeting: lines[0]!, echo: lines[1]!, cn });
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? err.message }));
    s.on('close', () => resolve({ ok: false, code: 'closed' }));
  });
}

/** Raw bytes to the port; resolves with what came back once the proxy closed the connection. */
function raw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    s.on('connect', () => s.write(bytes));
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(got)));
  });
}

/** The description byte of a fatal TLS alert record, or undefined. */
const alertOf = (b: Buffer): number | undefined => (b.length >= 7 && b[0] === 21 && b[5] === 2 ? b[6] : undefined);

const tlsRoute = (name: string, hostnames: string[], backends: { name: string; weight?: number }[], parent = 'gateway-tlsroute') => `apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: { name: ${name}, namespace: ${NS} }
spec:
  parentRefs: [{ name: ${parent} }]
  hostnames: [${hostnames.map((h) => JSON.stringify(h)).join(', ')}]
  rules: [{ backendRefs: [${backends.map((b) => `{ name: ${b.name}, port: 443${b.weight !== undefined ? `, weight: ${b.weight}` : ''} }`).join(', ')}] }]
`;

const service = (name: string, namespace = NS) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec: { ports: [{ protocol: TCP, port: 443, targetPort: 8443 }] }
`;

describe('TLSRoute (Gateway API v1alpha2, TLS passthrough)', () => {
  const ca = certificateAuthority('passthrough test CA');
  const backends = new Map<string, Backend>();
  let downPort = 0;
  const running: Ingress[] = [];

  before(async () => {
    // Each backend holds its own certificate: the client verifying it proves the proxy did not terminate TLS.
    backends.set('tls-backend', await startTlsBackend('tls-backend', serverCertificate(ca, 'abc.example.com')));
    backends.set('tls-wildcard', await startTlsBackend('tls-wildcard', serverCertificate(ca, '*.example.com')));
    backends.set('tls-other', await startTlsBackend('tls-other', serverCertificate(ca, 'abc.example.com')));
    downPort = await closedPort();
  });
  after(async () => {
    await Promise.all(running.map((i) => i.close()));
    await Promise.all([...backends.values()].map((b) => new Promise((r) => b.server.close(r))));
  });

  /** The base manifests plus `files` and `extra`, the TLS Services given their backends' endpoints, served. */
  async function serve(files: string[], extra: string[] = [], gateway = 'gateway-tlsroute', limits: IngressOptions['limits'] = {}): Promise<{ port: number; config: CompiledConfig; ingress: Ingress; set: ResourceSet }> {
    const set = emptyResourceSet();
    for (const f of ['base/manifests.yaml', ...files]) parseManifests(upstream(f), f, set);
    for (const [i, text] of extra.entries()) assert.deepEqual(parseManifests(text, `extra-${i}`, set).problems, []);
    for (const svc of set.services) {
      const name = svc.metadata.name;
      const port = backends.get(name)?.port ?? (name === 'tls-down' ? downPort : undefined);
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
    const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, limits });
    running.push(ingress);
    await ingress.apply(config);
    return { port: ingress.address(`${NS}/${gateway}`, 443)!.port, config, ingress, set };
  }

  const parent = (config: CompiledConfig, route: string) => config.status.tlsRoutes.get(`${NS}/${route}`)?.parents[0];
  const conditionOf = (config: CompiledConfig, route: string, type: string) => parent(config, route)?.conditions.find((c) => c.type === type);

  it('TLSRouteSimpleSameNamespace: the route is accepted and a connection for abc.example.com reaches tls-backend untouched', async () => {
    const { port, config } = await serve(['tests/tlsroute-simple-same-namespace.yaml']);
    assert.equal(conditionOf(config, 'gateway-conformance-infra-test', 'Accepted')?.status, 'True');
    assert.equal(conditionOf(config, 'gateway-conformance-infra-test', 'ResolvedRefs')?.status, 'True');
    const listener = config.status.gateways.get(`${NS}/gateway-tlsroute`)!.listeners[0]!;
    assert.equal(listener.attachedRoutes, 1);
    assert.deepEqual(listener.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'TLSRoute' }]);
    assert.equal(listener.conditions.find((c) => c.type === 'Programmed')?.status, 'True');
    const r = await tlsExchange(port, 'abc.example.com', ca.cert);
    assert.deepEqual(r, { ok: true, greeting: 'tls-backend abc.example.com', echo: 'ping', cn: 'abc.example.com' });
  });

  it('TLSRouteInvalidReferenceGrant: a backend in another namespace without a matching grant is RefNotPermitted, and its connections are refused', async () => {
    const { port, config } = await serve(['tests/tlsroute-invalid-reference-grant.yaml'], [], 'gateway-tlsroute-referencegrant');
    assert.equal(conditionOf(config, 'gateway-conformance-infra-test', 'Accepted')?.status, 'True');
    const resolved = conditionOf(config, 'gateway-conformance-infra-test', 'ResolvedRefs');
    assert.equal(resolved?.status, 'False');
    assert.equal(resolved?.reason, 'RefNotPermitted');
    const r = await tlsExchange(port, 'abc.example.com', ca.cert);
    assert.equal(r.ok, false);
    assert.equal((r as { code: string }).code, 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
  });

  it('routes by server name: an exact hostname before a wildcard, and refuses a name no route takes with unrecognized_name', async () => {
    const { port } = await serve(
      ['tests/tlsroute-simple-same-namespace.yaml'],
      [service('tls-wildcard'), tlsRoute('wildcard', ['*.example.com'], [{ name: 'tls-wildcard' }])],
    );
    assert.equal(((await tlsExchange(port, 'abc.example.com', ca.cert)) as { greeting: string }).greeting, 'tls-backend abc.example.com');
    assert.equal(((await tlsExchange(port, 'def.example.com', ca.cert)) as { greeting: string }).greeting, 'tls-wildcard def.example.com');
    assert.deepEqual(await tlsExchange(port, 'abc.example.org', ca.cert), { ok: false, code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
    // No server name at all: the listener has a hostname, so no route takes the connection.
    assert.deepEqual(await tlsExchange(port, undefined, ca.cert), { ok: false, code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  });

  it('keeps the oldest route for a hostname two TLSRoutes claim, and spreads a route over its weighted backends', async () => {
    const older = tlsRoute('older', ['abc.example.com'], [{ name: 'tls-backend', weight: 1 }, { name: 'tls-other', weight: 1 }]).replace('metadata: {', 'metadata: { creationTimestamp: "2024-01-01T00:00:00Z",');
    const newer = tlsRoute('newer', ['abc.example.com'], [{ name: 'tls-wildcard' }]).replace('metadata: {', 'metadata: { creationTimestamp: "2025-01-01T00:00:00Z",');
    const base = upstream('tests/tlsroute-simple-same-namespace.yaml').split('---').find((d) => d.includes('kind: Gateway'))!;
    const { port } = await serve([], [base, service('tls-other'), service('tls-wildcard'), older, newer]);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(((await tlsExchange(port, 'abc.example.com', ca.cert)) as { greeting: string }).greeting.split(' ')[0]!);
    assert.deepEqual([...seen].sort(), ['tls-backend', 'tls-other']);
  });

  it('takes a new TLSRoute on the listening socket, keeps a stream under way across the change, and cuts it when its listener goes', async () => {
    const { port, ingress, set } = await serve(['tests/tlsroute-simple-same-namespace.yaml'], [service('tls-wildcard')]);
    assert.deepEqual(await tlsExchange(port, 'def.example.com', ca.cert), { ok: false, code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
    // A stream opened before the change.
    const open = tlsConnect({ host: '127.0.0.1', port, servername: 'abc.example.com', ca: ca.cert });
    open.on('error', () => {});
    await new Promise((r) => open.once('data', r));
    parseManifests(tlsRoute('wildcard', ['*.example.com'], [{ name: 'tls-wildcard' }]), 'more', set);
    await ingress.apply(compile(set));
    assert.equal(((await tlsExchange(port, 'def.example.com', ca.cert)) as { greeting: string }).greeting, 'tls-wildcard def.example.com');
    const echoed = new Promise<string>((r) => open.once('data', (d: Buffer) => r(d.toString())));
    open.write('still here\n');
    assert.equal(await echoed, 'still here\n');
    // The Gateway goes: after the drain grace its streams are cut.
    const closed = new Promise<void>((r) => open.once('close', () => r()));
    await ingress.apply(compile({ ...set, gateways: [] }));
    await closed;
    assert.equal(ingress.address(`${NS}/gateway-tlsroute`, 443), undefined);
  });

  it('answers internal_error when the endpoint refuses the connection', async () => {
    const { port } = await serve([], [upstream('tests/tlsroute-simple-same-namespace.yaml').split('---').find((d) => d.includes('kind: Gateway'))!, service('tls-down'), tlsRoute('down', ['abc.example.com'], [{ name: 'tls-down' }])]);
    assert.deepEqual(await tlsExchange(port, 'abc.example.com', ca.cert), { ok: false, code: 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR' });
  });

  it('refuses a TLS listener that would terminate, and HTTPRoutes on a TLS listener', async () => {
    const gw = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: tls-kinds, namespace: ${NS} }
spec:
  gatewayClassName: zenokube
  listeners:
  - { name: terminate, port: 8443, protocol: TLS, tls: { mode: Terminate, certificateRefs: [{ name: tls-validity-checks-certificate }] } }
  - { name: pass, port: 9443, protocol: TLS, tls: { mode: Passthrough }, allowedRoutes: { kinds: [{ kind: HTTPRoute }] } }
`;
    const config = compile(parseManifests(gw, 'gateway').set);
    const listeners = config.status.gateways.get(`${NS}/tls-kinds`)!.listeners;
    const terminate = listeners.find((l) => l.name === 'terminate')!;
    assert.equal(terminate.conditions.find((c) => c.type === 'Accepted')?.reason, 'UnsupportedProtocol');
    const pass = listeners.find((l) => l.name === 'pass')!;
    assert.equal(pass.conditions.find((c) => c.type === 'ResolvedRefs')?.reason, 'InvalidRouteKinds');
    assert.deepEqual(pass.supportedKinds, []);
  });

  describe('hostile clients beside a legitimate one', () => {
    let port = 0;
    before(async () => {
      ({ port } = await serve(['tests/tlsroute-simple-same-namespace.yaml'], [], 'gateway-tlsroute', { helloTimeoutMs: 300, maxHelloBytes: 4_096 }));
    });

    /** `n` exchanges of the legitimate client, one after another; how many succeeded. */
    async function legitimate(n: number): Promise<number> {
      let ok = 0;
      for (let i = 0; i < n; i++) if ((await tlsExchange(port, 'abc.example.com', ca.cert)).ok) ok++;
      return ok;
    }

    it('cuts hellos that never complete at their deadline while other clients are served', async () => {
      const stalled: Socket[] = [];
      const closed: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        const s = netConnect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        // A record header promising 200 bytes, and only part of them.
        s.on('connect', () => s.write(Buffer.from([22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3])));
        closed.push(new Promise((r) => s.once('close', () => r())));
        stalled.push(s);
      }
      assert.equal(await legitimate(20), 20);
      await Promise.all(closed);
      assert.ok(stalled.every((s) => s.destroyed));
    });

    it('answers an oversized hello from its first bytes, and garbage, with a decode_error alert', async () => {
      const huge = Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0, 1]), Buffer.from([0x01, 0, 0])]);
      const [a, b, c] = await Promise.all([raw(port, huge), raw(port, Buffer.from('GET / HTTP/1.1\r\nHost: abc.example.com\r\n\r\n')), raw(port, Buffer.alloc(64, 22)), legitimate(5)]);
      assert.equal(alertOf(a), 50);
      assert.equal(alertOf(b), 50);
      assert.equal(alertOf(c), 50);
    });

    it('refuses a hello spread over more tiny records than a client sends', async () => {
      const bytes: number[] = [];
      for (const x of [1, 0, 0, 200, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) bytes.push(22, 3, 1, 0, 1, x);
      assert.equal(alertOf(await raw(port, Buffer.from(bytes))), 50);
      assert.equal(await legitimate(3), 3);
    });

    it('keeps serving beside clients that reset mid-stream or send an empty hello', async () => {
      const resets = Array.from({ length: 20 }, () =>
        new Promise<void>((resolve) => {
          const s = tlsConnect({ host: '127.0.0.1', port, servername: 'abc.example.com', ca: ca.cert });
          s.on('error', () => {});
          s.once('secureConnect', () => {
            s.write('half');
            s.destroy();
          });
          s.once('close', () => resolve());
        }),
      );
      const hellos = Array.from({ length: 20 }, () => raw(port, Buffer.from([22, 3, 1, 0, 4, 1, 0, 0, 0])).then(() => {}));
      const [ok] = await Promise.all([legitimate(20), ...resets, ...hellos]);
      assert.equal(ok, 20);
    });
  });
});
