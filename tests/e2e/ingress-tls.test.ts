// ZenoIngress HTTPS listeners: TLS termination with SNI, certificates from Secrets (also across
// namespaces through a ReferenceGrant), hot reload of a changed Secret. Certificates are made
// in the test with the openssl CLI and verified by a real TLS client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Ingress, ResourceSet, Secret } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { SERVICE_PORT, backendYaml, gatewayYaml, httpRouteYaml, yamlStream } from '#tests/support/gateway-yaml';

const work = mkdtempSync(join(tmpdir(), 'zeno-tls-'));
let serial = 0;

function certificate(cn: string): { cert: string; key: string } {
  const n = ++serial;
  const key = join(work, `${n}.key`);
  const cert = join(work, `${n}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

function secret(name: string, namespace: string, pair: { cert: string; key: string }): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace },
    data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
  };
}

const listener = (name: string, certificateRef: { name: string; namespace?: string }) => ({ name, port: 443, protocol: 'HTTPS', hostname: `${name}.example.com`, tls: { certificateRefs: [certificateRef] } });

const manifests = (echoPort: number) =>
  yamlStream(
    gatewayYaml({
      name: 'edge',
      namespace: 'web',
      gatewayClassName: 'zenokube',
      listeners: [listener('a', { name: 'cert-a' }), listener('b', { name: 'cert-b', namespace: 'certs' }), listener('c', { name: 'cert-c', namespace: 'certs' })],
    }),
    `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: gateways-may-read-cert-b, namespace: certs }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: Gateway, namespace: web }]
  to: [{ group: "", kind: Secret, name: cert-b }]
`,
    httpRouteYaml({ name: 'site', namespace: 'web', gateway: 'edge', rules: [{ backendRefs: [{ name: 'echo', port: SERVICE_PORT }] }] }),
    backendYaml('echo', 'web', echoPort),
  );

function get(port: number, servername: string, ca: string): Promise<{ status: number; cn: string; echo: { headers: Record<string, string[]> } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername, ca, path: '/', headers: { host: servername }, agent: false }, (res) => {
      const cn = (res.socket as TLSSocket).getPeerCertificate().subject?.CN as string;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cn, echo: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS listeners (Listener.tls, certificateRefs)', () => {
  let echo: EchoBackend;
  let ingress: Ingress;
  let set: ResourceSet;
  const a = certificate('a.example.com');
  const b = certificate('b.example.com');
  const c = certificate('c.example.com');
  let port = 0;

  before(async () => {
    echo = await startEcho('echo', 'web');
    set = parseManifests(manifests(echo.port), 'tls').set;
    set.secrets.push(secret('cert-a', 'web', a), secret('cert-b', 'certs', b), secret('cert-c', 'certs', c));
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
    await ingress.apply(compile(set));
    port = ingress.address('web/edge', 443)!.port;
  });
  after(async () => {
    await ingress.close();
    await echo.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('terminates TLS with the certificate of the listener the SNI names', async () => {
    const ra = await get(port, 'a.example.com', a.cert);
    assert.equal(ra.cn, 'a.example.com');
    const rb = await get(port, 'b.example.com', b.cert);
    assert.equal(rb.cn, 'b.example.com');
  });

  it('tells the backend the original scheme', async () => {
    const r = await get(port, 'a.example.com', a.cert);
    assert.deepEqual(r.echo.headers['x-forwarded-proto'], ['https']);
    assert.match(r.echo.headers.forwarded![0]!, /proto=https/);
  });

  it('refuses a cross-namespace certificate without a ReferenceGrant (RefNotPermitted)', () => {
    const listener = compile(set).status.gateways.get('web/edge')!.listeners.find((l) => l.name === 'c')!;
    const refs = listener.conditions.find((x) => x.type === 'ResolvedRefs')!;
    assert.deepEqual([refs.status, refs.reason], ['False', 'RefNotPermitted']);
    assert.equal(listener.conditions.find((x) => x.type === 'Programmed')!.status, 'False');
  });

  it('serves a replaced certificate on new connections after a reload', async () => {
    const a2 = certificate('a.example.com');
    set.secrets[0] = secret('cert-a', 'web', a2);
    await ingress.apply(compile(set));
    assert.equal(ingress.address('web/edge', 443)!.port, port);
    const r = await get(port, 'a.example.com', a2.cert);
    assert.equal(r.status, 200);
    await assert.rejects(get(port, 'a.example.com', a.cert), /self.signed|unable to verify|certificate/i);
  });

  it('reports a Secret without a usable key pair as InvalidCertificateRef', () => {
    const broken = structuredClone(set);
    broken.secrets[0] = { ...set.secrets[0]!, data: { 'tls.crt': Buffer.from('nope').toString('base64') } };
    const listener = compile(broken).status.gateways.get('web/edge')!.listeners.find((l) => l.name === 'a')!;
    assert.equal(listener.conditions.find((x) => x.type === 'ResolvedRefs')!.reason, 'InvalidCertificateRef');
  });
});
