// BackendTLSPolicy (Gateway API v1alpha3) through ZenoIngress: TLS to a real backend made with
// node's https, its certificate checked against CA certificates from a ConfigMap, the policy's
// hostname as SNI and as the name checked (or its subjectAltNames), the system's CAs; a policy that
// cannot be honoured never falls back to cleartext; status per ancestor Gateway.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer as httpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CompiledConfig, Ingress } from '#functions/ingress/index';
import { compile, createIngress, emptyResourceSet, parseManifests } from '#functions/ingress/index';
import { certificateAuthority, serverCertificate } from '#tests/support/certificates';
import { gatewayYaml, httpRouteYaml, yamlStream } from '#tests/support/gateway-yaml';

const NS = 'web';

interface Seen {
  servername: string;
  host: string;
  path: string;
}

/** An HTTPS server that answers what it saw: the SNI it was asked for, the Host and the path. */
async function startHttpsBackend(pem: { cert: string; key: string }): Promise<{ server: HttpsServer; port: number; hits: () => number }> {
  let hits = 0;
  const server = httpsServer({ cert: pem.cert, key: pem.key }, (req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ servername: String((req.socket as TLSSocket).servername), host: String(req.headers.host), path: String(req.url) } satisfies Seen));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}

function get(port: number, host: string, path = '/'): Promise<{ status: number; code: string | undefined; seen: Seen | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers['x-zeno-ingress'] as string | undefined, seen: res.statusCode === 200 ? (JSON.parse(body) as Seen) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

const configMap = (name: string, caCrt: string) => `apiVersion: v1
kind: ConfigMap
metadata: { name: ${name}, namespace: ${NS} }
data:
  ca.crt: ${JSON.stringify(caCrt)}
`;

const policy = (name: string, service: string, validation: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: { name: ${name}, namespace: ${NS}${extra} }
spec:
  targetRefs: [{ group: "", kind: Service, name: ${service} }]
  validation: ${validation}
`;

/** A Service `name` with an https port 443 (and an http port 80) whose endpoints are 127.0.0.1:`port`. */
const service = (name: string, port: number) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${NS} }
spec: { ports: [{ name: https, port: 443 }, { name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: ${NS}, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
endpoints: [{ addresses: [127.0.0.1] }]
ports: [{ name: https, port: ${port} }, { name: http, port: ${port} }]
`;

describe('BackendTLSPolicy (Gateway API v1alpha3)', () => {
  const ca = certificateAuthority('backend test CA');
  const otherCa = certificateAuthority('another CA');
  let backend: Awaited<ReturnType<typeof startHttpsBackend>>;
  const running: Ingress[] = [];

  before(async () => {
    backend = await startHttpsBackend(serverCertificate(ca, 'backend.example.com', 'alt.example.net'));
  });
  after(async () => {
    await Promise.all(running.map((i) => i.close()));
    await new Promise((r) => backend.server.close(r));
  });

  /** One Gateway `edge` with an HTTP listener, a route per hostname `<svc>.test` to its Service's https port (or `port`), and `extra`. */
  async function serve(services: string[], extra: string[], port = 443): Promise<{ port: number; config: CompiledConfig }> {
    const set = emptyResourceSet();
    const docs = [
      gatewayYaml({ name: 'edge', namespace: NS, gatewayClassName: 'zenokube' }),
      ...services.flatMap((s) => [service(s, backend.port), httpRouteYaml({ name: s, namespace: NS, gateway: 'edge', hostnames: [`${s}.test`], rules: [{ backendRefs: [{ name: s, port }] }] })]),
      ...extra,
    ];
    assert.deepEqual(parseManifests(yamlStream(...docs), 'test', set).problems, []);
    const config = compile(set);
    const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
    running.push(ingress);
    await ingress.apply(config);
    return { port: ingress.address(`${NS}/edge`, 80)!.port, config };
  }

  const policyStatus = (config: CompiledConfig, name: string) => config.status.backendTLSPolicies.get(`${NS}/${name}`)?.ancestors;

  it('speaks TLS to the backend with the policy hostname as SNI, trusting the CA of its ConfigMap', async () => {
    const { port, config } = await serve(['secure'], [configMap('backend-ca', ca.cert), policy('secure-tls', 'secure', '{ hostname: backend.example.com, caCertificateRefs: [{ group: "", kind: ConfigMap, name: backend-ca }] }')]);
    const r = await get(port, 'secure.test', '/hello');
    assert.equal(r.status, 200);
    assert.deepEqual(r.seen, { servername: 'backend.example.com', host: 'secure.test', path: '/hello' });
    const ancestors = policyStatus(config, 'secure-tls')!;
    assert.deepEqual(ancestors.map((a) => `${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name}`), ['Gateway web/edge']);
    assert.deepEqual(ancestors[0]!.conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
  });

  it('refuses a backend whose certificate another CA signed, or that names another host, with 502 and no cleartext', async () => {
    const { port } = await serve(
      ['wrongca', 'wrongname'],
      [
        configMap('other-ca', otherCa.cert),
        configMap('backend-ca', ca.cert),
        policy('wrongca', 'wrongca', '{ hostname: backend.example.com, caCertificateRefs: [{ name: other-ca }] }'),
        policy('wrongname', 'wrongname', '{ hostname: elsewhere.example.com, caCertificateRefs: [{ name: backend-ca }] }'),
      ],
    );
    const before = backend.hits();
    assert.deepEqual([(await get(port, 'wrongca.test')).status, (await get(port, 'wrongca.test')).code], [502, 'upstream_error']);
    assert.equal((await get(port, 'wrongname.test')).status, 502);
    assert.equal(backend.hits(), before);
  });

  it('checks subjectAltNames instead of the hostname when the policy lists them', async () => {
    const { port } = await serve(
      ['bysan', 'nosan'],
      [
        configMap('backend-ca', ca.cert),
        policy('bysan', 'bysan', '{ hostname: sni.example.com, caCertificateRefs: [{ name: backend-ca }], subjectAltNames: [{ type: Hostname, hostname: nothere.example.org }, { type: Hostname, hostname: alt.example.net }] }'),
        policy('nosan', 'nosan', '{ hostname: backend.example.com, caCertificateRefs: [{ name: backend-ca }], subjectAltNames: [{ type: URI, uri: "spiffe://cluster.local/ns/web/sa/backend" }] }'),
      ],
    );
    const r = await get(port, 'bysan.test');
    assert.equal(r.status, 200);
    assert.equal(r.seen?.servername, 'sni.example.com');
    assert.equal((await get(port, 'nosan.test')).status, 502);
  });

  it('trusts only the system CAs under wellKnownCACertificates: System', async () => {
    const { port, config } = await serve(['system'], [policy('system', 'system', '{ hostname: backend.example.com, wellKnownCACertificates: System }')]);
    assert.equal(policyStatus(config, 'system')![0]!.conditions[0]!.status, 'True');
    assert.equal((await get(port, 'system.test')).status, 502);
  });

  it('never falls back to cleartext for a policy it cannot honour, and says why in its status', async () => {
    const before = backend.hits();
    const { port, config } = await serve(
      ['both', 'missing', 'kind'],
      [
        configMap('backend-ca', ca.cert),
        policy('both', 'both', '{ hostname: backend.example.com, wellKnownCACertificates: System, caCertificateRefs: [{ name: backend-ca }] }'),
        policy('missing', 'missing', '{ hostname: backend.example.com, caCertificateRefs: [{ name: no-such-map }] }'),
        policy('kind', 'kind', '{ hostname: backend.example.com, caCertificateRefs: [{ group: "", kind: Secret, name: backend-ca }] }'),
      ],
    );
    for (const host of ['both.test', 'missing.test', 'kind.test']) assert.equal((await get(port, host)).status, 500, host);
    assert.equal(backend.hits(), before);
    const reasons = (name: string) => policyStatus(config, name)![0]!.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`);
    assert.deepEqual(reasons('both'), ['Accepted=False:Invalid', 'ResolvedRefs=True:ResolvedRefs']);
    assert.deepEqual(reasons('missing'), ['Accepted=True:Accepted', 'ResolvedRefs=False:InvalidCACertificateRef']);
    assert.deepEqual(reasons('kind'), ['Accepted=True:Accepted', 'ResolvedRefs=False:InvalidKind']);
  });

  it('applies a policy with a sectionName to that Service port only, and keeps the older of two policies for a port', async () => {
    const sectioned = policy('https-only', 'mixed', '{ hostname: backend.example.com, caCertificateRefs: [{ name: backend-ca }] }').replace('name: mixed }', 'name: mixed, sectionName: https }');
    const older = policy('older', 'twice', '{ hostname: backend.example.com, caCertificateRefs: [{ name: backend-ca }] }', ', creationTimestamp: "2024-01-01T00:00:00Z"');
    const newer = policy('newer', 'twice', '{ hostname: backend.example.com, caCertificateRefs: [{ name: other-ca }] }', ', creationTimestamp: "2025-01-01T00:00:00Z"');
    const tls = await serve(['mixed', 'twice'], [configMap('backend-ca', ca.cert), configMap('other-ca', otherCa.cert), sectioned, older, newer]);
    assert.equal((await get(tls.port, 'mixed.test')).status, 200);
    assert.equal((await get(tls.port, 'twice.test')).status, 200);
    assert.equal(policyStatus(tls.config, 'newer')![0]!.conditions[0]!.reason, 'Conflicted');
    // Port 80 of the same Service has no policy: cleartext, which the TLS backend cannot read.
    const plain = await serve(['mixed'], [configMap('backend-ca', ca.cert), sectioned], 80);
    assert.equal((await get(plain.port, 'mixed.test')).status, 502);
  });
});
