// ZenoIngress client certificate settings: the listener conditions of tls.options, and the
// Client-Cert fields a client sends are removed on a plain HTTP listener too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Ingress, ResourceSet, Secret } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { SERVICE_PORT, backendYaml, gatewayYaml, httpRouteYaml, yamlStream } from '#tests/support/gateway-yaml';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';

function setWith(options: Record<string, string>, echoPort = 1): ResourceSet {
  const set = parseManifests(
    yamlStream(
      gatewayYaml({ name: 'edge', namespace: 'web', gatewayClassName: 'zenokube', listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'site' }], options } }] }),
      backendYaml('echo', 'web', echoPort),
    ),
    'client-cert',
  ).set;
  const secret = (name: string, data: Record<string, string>): Secret => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'web' }, stringData: data });
  set.secrets.push(secret('site', { 'tls.crt': PEM, 'tls.key': KEY }), secret('client-ca', { 'ca.crt': PEM }));
  return set;
}

const conditionsOf = (set: ResourceSet) => compile(set).status.gateways.get('web/edge')!.listeners[0]!.conditions;
const reasonOf = (set: ResourceSet, type: string) => conditionsOf(set).find((c) => c.type === type && c.status === 'False')?.reason;

describe('Listener tls.options zenokube.io/client-certificate', () => {
  it('accepts request, with or without a CA Secret', () => {
    assert.equal(reasonOf(setWith({ 'zenokube.io/client-certificate': 'request' }), 'Accepted'), undefined);
    assert.equal(reasonOf(setWith({ 'zenokube.io/client-certificate': 'request', 'zenokube.io/client-certificate-ca': 'client-ca' }), 'ResolvedRefs'), undefined);
  });

  it('refuses an unknown mode, and a CA without the request (Accepted=False, Invalid)', () => {
    assert.equal(reasonOf(setWith({ 'zenokube.io/client-certificate': 'require' }), 'Accepted'), 'Invalid');
    assert.equal(reasonOf(setWith({ 'zenokube.io/client-certificate-ca': 'client-ca' }), 'Accepted'), 'Invalid');
  });

  it('reports a missing CA Secret as ResolvedRefs=False', () => {
    assert.equal(reasonOf(setWith({ 'zenokube.io/client-certificate': 'request', 'zenokube.io/client-certificate-ca': 'nope' }), 'ResolvedRefs'), 'InvalidCertificateRef');
  });
});

describe('Client-Cert fields from a client (RFC 9440 §2)', () => {
  let echo: EchoBackend;
  let ingress: Ingress;
  let port: number;
  before(async () => {
    echo = await startEcho('echo', 'web');
    const set = parseManifests(
      yamlStream(gatewayYaml({ name: 'plain', namespace: 'web' }), httpRouteYaml({ name: 'r', namespace: 'web', gateway: 'plain', rules: [{ backendRefs: [{ name: 'echo', port: SERVICE_PORT }] }] }), backendYaml('echo', 'web', echo.port)),
      'plain',
    ).set;
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, clientCertKey: randomBytes(32) });
    await ingress.apply(compile(set));
    port = ingress.address('web/plain', 80)!.port;
  });
  after(async () => {
    await ingress.close();
    await echo.close();
  });

  it('are removed before the request goes upstream, on a plain listener too', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'client-cert': ':AAAA:', 'Client-Cert-Chain': ':AAAA:', 'zeno-client-cert-proof': 'v1.1.1.x' } });
    const body = (await res.json()) as { headers: Record<string, string[]> };
    assert.equal(res.status, 200);
    assert.equal(body.headers['client-cert'], undefined);
    assert.equal(body.headers['client-cert-chain'], undefined);
    assert.equal(body.headers['zeno-client-cert-proof'], undefined);
    assert.ok(body.headers['x-forwarded-for']);
  });
});
