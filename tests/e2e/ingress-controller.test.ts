// ZenoIngress as a Kubernetes controller (configuration source b), against an in-process FAKE
// API server (tests/e2e/ingress-fake-apiserver.ts), not a real one: client-node informers list
// and watch it, the controller routes real requests, writes status conditions through the status
// subresource, keeps other controllers' route status, and honours finalizers on deletion.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';
import { createLogger } from '#shared/log/index';
import type { Ingress, KubeController } from '#functions/ingress/index';
import { createIngress } from '#functions/ingress/index';
import { GATEWAY_FINALIZER, startKubeController } from '#functions/ingress/controller/controller';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { waitFor, waitUntil } from '#tests/support/poll';
import { certificateAuthority } from '#tests/support/certificates';
import type { FakeApiServer } from './ingress-fake-apiserver.js';
import { startFakeApiServer } from './ingress-fake-apiserver.js';

const GW = 'gateway.networking.k8s.io/v1';
const routeOf = (name: string, parents: string[], prefix: string, backend = 'echo') => ({
  apiVersion: GW,
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'web' },
  spec: { parentRefs: parents.map((p) => ({ name: p })), rules: [{ matches: [{ path: { type: 'PathPrefix', value: prefix } }], backendRefs: [{ name: backend, port: 8080 }] }] },
});


describe('Kubernetes controller (fake API server)', () => {
  let api: FakeApiServer;
  let echo: EchoBackend;
  let ingress: Ingress;
  let controller: KubeController;
  const routes = '/apis/gateway.networking.k8s.io/v1/httproutes';
  const gateways = '/apis/gateway.networking.k8s.io/v1/gateways';

  before(async () => {
    api = await startFakeApiServer();
    echo = await startEcho('echo', 'web');
    api.put({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'zenokube' }, spec: { controllerName: 'zenokube.io/ingress' } });
    api.put({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'other' }, spec: { controllerName: 'other.example/gw' } });
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } });
    api.put({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'edge', namespace: 'web' }, spec: { gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
    api.put({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'foreign', namespace: 'web' }, spec: { gatewayClassName: 'other', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
    api.put({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'web' }, spec: { ports: [{ name: 'http', port: 8080 }] } });
    api.put({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'echo-1', namespace: 'web', labels: { 'kubernetes.io/service-name': 'echo' } },
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: echo.port }],
    } as never);
    const shared = api.put(routeOf('app', ['edge', 'foreign'], '/app'));
    // Another controller already reported on its own parent: that entry must survive our writes.
    api.put({ ...shared, status: undefined });
    const foreignStatus = { parents: [{ parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'web', name: 'foreign' }, controllerName: 'other.example/gw', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'theirs', lastTransitionTime: '2024-01-01T00:00:00Z' }] }] };
    await request(`${api.url}${routes.replace('/httproutes', '/namespaces/web/httproutes')}/app/status`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ status: foreignStatus }) }).then((r) => r.body.dump());
    api.put(routeOf('bad', ['edge'], '/bad', 'missing'));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'ingress', token: 'not-checked-by-the-fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'ingress' }],
      currentContext: 'fake',
    });
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
    controller = await startKubeController({ kc, ingress, log: createLogger({ level: 'error', sink: () => {} }), debounceMs: 20 });
    await waitFor('the edge listener', () => ingress.address('web/edge', 80));
  });
  after(async () => {
    await controller.stop();
    await ingress.close();
    await echo.close();
    await api.close();
  });

  const send = async (path: string) => {
    const addr = ingress.address('web/edge', 80);
    if (!addr) return 0;
    const r = await request(`http://127.0.0.1:${addr.port}${path}`);
    await r.body.dump();
    return r.statusCode;
  };

  it('routes traffic for Gateways of its GatewayClass only and accepts that class', async () => {
    // The informers deliver the Gateway and its routes separately: wait for the routes to be programmed.
    assert.equal(await waitFor('/app routed', async () => ((await send('/app/x')) === 200 ? 200 : undefined)), 200);
    assert.equal(ingress.address('web/foreign', 80), undefined);
    // Wait for the Accepted condition itself: a status may exist a moment before it carries it.
    const gc = await waitFor('GatewayClass Accepted', () => {
      const status = api.get('/apis/gateway.networking.k8s.io/v1/gatewayclasses', '', 'zenokube')?.status as { conditions?: { type: string; status: string }[] } | undefined;
      return status?.conditions?.some((c) => c.type === 'Accepted') ? status : undefined;
    });
    assert.equal(gc.conditions?.find((c) => c.type === 'Accepted')?.status, 'True');
    assert.equal(api.get('/apis/gateway.networking.k8s.io/v1/gatewayclasses', '', 'other')?.status, undefined);
  });

  it('writes route parent status next to the other controller entry', async () => {
    const parents = await waitFor('our route parent status', () => {
      const p = (api.get(routes, 'web', 'app')?.status as { parents?: { controllerName: string; parentRef: { name: string }; conditions: { type: string; status: string }[] }[] })?.parents;
      return p && p.some((x) => x.controllerName === 'zenokube.io/ingress') ? p : undefined;
    });
    const theirs = parents.filter((p) => p.controllerName === 'other.example/gw');
    assert.equal(theirs.length, 1);
    const mine = parents.filter((p) => p.controllerName === 'zenokube.io/ingress');
    assert.deepEqual(mine.map((p) => p.parentRef.name), ['edge']);
    assert.equal(mine[0]!.conditions.find((c) => c.type === 'Accepted')!.status, 'True');
  });

  it('reports an unresolved backend as ResolvedRefs=False BackendNotFound and answers 500', async () => {
    const cond = await waitFor('ResolvedRefs on the bad route', () => {
      const p = (api.get(routes, 'web', 'bad')?.status as { parents?: { conditions: { type: string; status: string; reason: string }[] }[] })?.parents?.[0];
      return p?.conditions.find((c) => c.type === 'ResolvedRefs');
    });
    assert.deepEqual([cond.status, cond.reason], ['False', 'BackendNotFound']);
    assert.equal(await send('/bad'), 500);
  });

  it('writes Gateway and listener conditions and adds its finalizer', async () => {
    const gw = await waitFor('Gateway status and finalizer', () => {
      const g = api.get(gateways, 'web', 'edge');
      // Status is written first, the finalizer right after, in the same sync.
      return (g?.status as { listeners?: unknown[] })?.listeners && (g?.metadata.finalizers as string[] | undefined)?.length ? g : undefined;
    });
    const status = gw.status as { conditions: { type: string; status: string; observedGeneration: number }[]; listeners: { attachedRoutes: number; conditions: { type: string; status: string }[] }[] };
    assert.equal(status.conditions.find((c) => c.type === 'Programmed')!.status, 'True');
    assert.equal(status.conditions[0]!.observedGeneration, 1);
    assert.equal(status.listeners[0]!.attachedRoutes, 2);
    assert.ok((gw.metadata.finalizers as string[]).includes(GATEWAY_FINALIZER));
    assert.equal(api.get(gateways, 'web', 'foreign')?.status, undefined);
  });

  it('follows a route change through the watch', async () => {
    api.put(routeOf('app', ['edge', 'foreign'], '/moved'));
    await waitUntil('/moved routed', async () => (await send('/moved/x')) === 200);
    assert.equal(await send('/app/x'), 404);
  });

  it('settles: no status write loop once conditions are written', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const count = () => api.requests.filter((r) => r.startsWith('PATCH')).length;
    const before = count();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(count(), before);
  });

  it('closes the listeners of a deleted Gateway, then removes its finalizer so it goes', async () => {
    api.remove(gateways, 'web', 'edge');
    assert.ok(api.get(gateways, 'web', 'edge')?.metadata.deletionTimestamp, 'kept while the finalizer is there');
    await waitUntil('the Gateway gone', () => api.get(gateways, 'web', 'edge') === undefined);
    assert.equal(ingress.address('web/edge', 80), undefined);
  });

  it('watches TLSRoutes and BackendTLSPolicies, reads the ConfigMaps the policies name, and writes their status', async () => {
    const ca = certificateAuthority('controller test CA');
    api.put({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'edge2', namespace: 'web' }, spec: { gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
    api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'backend-ca', namespace: 'web' }, data: { 'ca.crt': ca.cert } });
    api.put({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'secure', namespace: 'web' }, spec: { ports: [{ name: 'https', port: 443 }] } });
    api.put({ apiVersion: GW, kind: 'HTTPRoute', metadata: { name: 'secure', namespace: 'web' }, spec: { parentRefs: [{ name: 'edge2' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/secure' } }], backendRefs: [{ name: 'secure', port: 443 }] }] } });
    api.put({
      apiVersion: 'gateway.networking.k8s.io/v1alpha3',
      kind: 'BackendTLSPolicy',
      metadata: { name: 'secure-tls', namespace: 'web' },
      spec: { targetRefs: [{ group: '', kind: 'Service', name: 'secure' }], validation: { hostname: 'secure.example.com', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] } },
    });
    // A TLSRoute cannot attach to an HTTP listener.
    api.put({ apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'TLSRoute', metadata: { name: 'pass', namespace: 'web' }, spec: { parentRefs: [{ name: 'edge2' }], hostnames: ['a.example.com'], rules: [{ backendRefs: [{ name: 'secure', port: 443 }] }] } });
    type Conditions = { conditions: { type: string; status: string; reason: string }[] }[];
    const ancestors = await waitFor('BackendTLSPolicy ancestor status with its CA resolved', () => {
      const a = (api.get('/apis/gateway.networking.k8s.io/v1alpha3/backendtlspolicies', 'web', 'secure-tls')?.status as { ancestors?: Conditions } | undefined)?.ancestors;
      return a?.[0]?.conditions.some((c) => c.type === 'ResolvedRefs' && c.status === 'True') ? a : undefined;
    });
    assert.equal(ancestors[0]!.conditions.find((c) => c.type === 'Accepted')?.status, 'True');
    const parents = await waitFor('TLSRoute parent status', () => (api.get('/apis/gateway.networking.k8s.io/v1alpha2/tlsroutes', 'web', 'pass')?.status as { parents?: Conditions } | undefined)?.parents);
    const accepted = parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
    assert.deepEqual([accepted.status, accepted.reason], ['False', 'NotAllowedByListeners']);
  });
});
