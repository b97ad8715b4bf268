// ZenoIngress's controller as a cluster runs it, several replicas at once, against the in-process
// FAKE Kubernetes API server (tests/e2e/ingress-fake-apiserver.ts), not a real one. The fake keeps
// resourceVersions, watches, field selectors and 409 Conflict on stale writes, logs every request
// with the caller's bearer token (each replica has its own), and can drop a watch event, slip in
// another client's write, or cut one caller off. Shown here: every replica routes, one leader on a
// coordination.k8s.io/v1 Lease writes status and hands over when it stops or loses the API server;
// Secrets are only ever listed and watched by name, for what the Gateways reference; a status
// write that races another writer is recomputed from a fresh read; a failed sync is retried with
// backoff; a watch event that never arrived is healed by the periodic relist.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';
import { createLogger } from '#shared/log/index';
import type { Ingress, KubeController } from '#functions/ingress/index';
import { createIngress, LEADER_LEASE_NAME } from '#functions/ingress/index';
import { startKubeController } from '#functions/ingress/controller/controller';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { waitFor, waitUntil } from '#tests/support/poll';
import type { FakeApiServer } from './ingress-fake-apiserver.js';
import { startFakeApiServer } from './ingress-fake-apiserver.js';
import { nodeArgs } from '#tests/support/node-args';

const GW = 'gateway.networking.k8s.io/v1';
const ROUTES = '/apis/gateway.networking.k8s.io/v1/httproutes';
const GATEWAYS = '/apis/gateway.networking.k8s.io/v1/gateways';
const LEASES = '/apis/coordination.k8s.io/v1/leases';
const LEASE_NS = 'zenokube-system';
/** Short timings so that a test sees several renewals; the ratios are client-go's. */
const ELECTION = { namespace: LEASE_NS, name: LEADER_LEASE_NAME, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };
const quiet = createLogger({ level: 'error', sink: () => {} });

type Conditions = { type: string; status: string; reason: string; observedGeneration?: number }[];
type Lease = { metadata: { resourceVersion: string }; spec: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string } };

const routeOf = (name: string, prefix: string, backend = 'echo') => ({
  apiVersion: GW,
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'web' },
  spec: { parentRefs: [{ name: 'edge' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: prefix } }], backendRefs: [{ name: backend, port: 8080 }] }] },
});

function certificate(cn: string): { cert: string; key: string } {
  const work = mkdtempSync(join(tmpdir(), 'ingress-ha-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(work, 'k'), '-out', join(work, 'c'), '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`], { stdio: 'ignore' });
    return { cert: readFileSync(join(work, 'c'), 'utf8'), key: readFileSync(join(work, 'k'), 'utf8') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const tlsSecret = (namespace: string, name: string, pair: { cert: string; key: string }) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
});

/** A Gateway class, a Gateway `web/edge` with an HTTP listener, a routed echo backend and route `web/app` on /app. */
function seed(api: FakeApiServer, echo: EchoBackend, listeners: unknown[] = []) {
  api.put({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'zenokube' }, spec: { controllerName: 'zenokube.io/ingress' } });
  for (const ns of ['web', 'other', LEASE_NS]) api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  api.put({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'edge', namespace: 'web' }, spec: { gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }, ...listeners] } });
  api.put({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'web' }, spec: { ports: [{ name: 'http', port: 8080 }] } });
  api.put({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'echo-1', namespace: 'web', labels: { 'kubernetes.io/service-name': 'echo' } },
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: echo.port }],
  } as never);
  api.put(routeOf('app', '/app'));
}

function kubeconfig(api: FakeApiServer, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: api.url, skipTLSVerify: true }],
    users: [{ name: token, token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: token }],
    currentContext: 'fake',
  });
  return kc;
}

interface Replica {
  id: string;
  ingress: Ingress;
  controller: KubeController;
  stopped: boolean;
  stop(): Promise<void>;
}

async function replica(api: FakeApiServer, id: string, extra: { resyncMs?: number; election?: boolean; backoff?: { baseMs: number; maxMs: number } } = {}): Promise<Replica> {
  const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
  const controller = await startKubeController({
    kc: kubeconfig(api, id),
    ingress,
    log: quiet,
    debounceMs: 20,
    resyncMs: extra.resyncMs ?? 0,
    backoff: extra.backoff,
    leaderElection: extra.election === false ? undefined : { ...ELECTION, identity: id },
  });
  const r: Replica = {
    id,
    ingress,
    controller,
    stopped: false,
    async stop() {
      if (r.stopped) return;
      r.stopped = true;
      await controller.stop();
      await ingress.close();
    },
  };
  return r;
}

async function send(r: Replica, path: string): Promise<number> {
  const addr = r.ingress.address('web/edge', 80);
  if (!addr) return 0;
  const res = await request(`http://127.0.0.1:${addr.port}${path}`);
  await res.body.dump();
  return res.statusCode;
}

const lease = (api: FakeApiServer) => api.get(LEASES, LEASE_NS, LEADER_LEASE_NAME) as unknown as Lease | undefined;
/** Writes other than to the Lease: status subresources and finalizers. */
const writesBy = (api: FakeApiServer, who: string, from = 0) => api.calls.slice(from).filter((c) => c.who === who && (c.method === 'PATCH' || c.method === 'PUT') && !c.path.includes('/leases/'));
const writers = (api: FakeApiServer, from = 0) => new Set(api.calls.slice(from).filter((c) => (c.method === 'PATCH' || c.method === 'PUT') && !c.path.includes('/leases/')).map((c) => c.who));
const routeParents = (api: FakeApiServer, name = 'app') =>
  (api.get(ROUTES, 'web', name)?.status as { parents?: { controllerName: string; parentRef: { name: string }; conditions: Conditions }[] } | undefined)?.parents ?? [];

describe('two controller replicas, one leader (fake API server)', () => {
  let api: FakeApiServer;
  let echo: EchoBackend;
  let a: Replica;
  let b: Replica;
  const leader = () => [a, b].find((r) => !r.stopped && r.controller.isLeader());

  before(async () => {
    api = await startFakeApiServer();
    echo = await startEcho('echo', 'web');
    seed(api, echo, [
      { name: 'https', port: 443, protocol: 'HTTPS', hostname: 'edge.example.com', tls: { certificateRefs: [{ name: 'edge-cert' }] } },
      // A certificate in another namespace: not watched until a ReferenceGrant there allows it.
      { name: 'shared', port: 8443, protocol: 'HTTPS', hostname: 'shared.example.com', tls: { certificateRefs: [{ name: 'shared-cert', namespace: 'other' }] } },
    ]);
    api.put(tlsSecret('web', 'edge-cert', certificate('edge.example.com')));
    api.put(tlsSecret('other', 'shared-cert', certificate('shared.example.com')));
    // Secrets no Gateway names: the controller must never list, watch or read them.
    api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-password', namespace: 'web' }, data: { password: Buffer.from('hunter2').toString('base64') } } as never);
    api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'edge-cert', namespace: 'other' }, data: {} } as never);
    a = await replica(api, 'replica-a');
    b = await replica(api, 'replica-b');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await echo?.close();
    await api?.close();
  });

  it('routes on every replica; exactly one holds the Lease and only that one writes', async () => {
    for (const r of [a, b]) await waitUntil(`${r.id} routes /app`, async () => (await send(r, '/app/x')) === 200);
    const first = await waitFor('a leader', () => leader());
    // Never two (a stalled leader may briefly be none: it steps down before its lease runs out).
    assert.ok([a, b].filter((r) => r.controller.isLeader()).length <= 1);
    const l = await waitFor('the Lease', () => lease(api));
    assert.equal(l.spec.holderIdentity, first.id);
    assert.equal(l.spec.leaseDurationSeconds, 3);
    assert.equal(l.spec.leaseTransitions, 0);
    // The leader writes Gateway status and the finalizer, then route status.
    await waitUntil('route status', () => routeParents(api).some((p) => p.controllerName === 'zenokube.io/ingress'));
    const follower = first === a ? b : a;
    assert.deepEqual([...writers(api)], [first.id]);
    assert.equal(writesBy(api, follower.id).length, 0);
    // The follower is a candidate all along: it reads the Lease every retry period.
    assert.ok(api.calls.some((c) => c.who === follower.id && c.method === 'GET' && c.path.endsWith(`/leases/${LEADER_LEASE_NAME}`)));
    // Every condition says which generation it describes.
    const route = api.get(ROUTES, 'web', 'app')!;
    for (const c of routeParents(api)[0]!.conditions) assert.equal(c.observedGeneration, route.metadata.generation);
  });

  it('lists and watches only the Secrets its Gateways name, by name, in their namespace', async () => {
    const listener = async (name: string) =>
      waitFor(`listener ${name} status`, () => {
        const ls = (api.get(GATEWAYS, 'web', 'edge')?.status as { listeners?: { name: string; conditions: Conditions }[] } | undefined)?.listeners;
        return ls?.find((l) => l.name === name);
      });
    await waitUntil('the https listener is programmed from web/edge-cert', async () => (await listener('https')).conditions.some((c) => c.type === 'Programmed' && c.status === 'True'));
    const shared = await listener('shared');
    assert.equal(shared.conditions.find((c) => c.type === 'ResolvedRefs')?.reason, 'RefNotPermitted');
    const secretCalls = () => api.calls.filter((c) => c.path.includes('/secrets'));
    assert.ok(secretCalls().length >= 4, 'each replica lists and watches web/edge-cert');
    for (const c of secretCalls()) {
      assert.equal(c.path, '/api/v1/namespaces/web/secrets', `${c.method} ${c.path}`);
      assert.equal(c.query.get('fieldSelector'), 'metadata.name=edge-cert');
    }
    // A ReferenceGrant in `other` makes other/shared-cert usable: now, and only now, it is watched.
    api.put({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'gateways-to-certs', namespace: 'other' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'web' }], to: [{ group: '', kind: 'Secret', name: 'shared-cert' }] },
    } as never);
    await waitUntil('the shared listener is programmed', async () => (await listener('shared')).conditions.some((c) => c.type === 'Programmed' && c.status === 'True'));
    for (const c of secretCalls()) {
      assert.ok(
        (c.path === '/api/v1/namespaces/web/secrets' && c.query.get('fieldSelector') === 'metadata.name=edge-cert') ||
          (c.path === '/api/v1/namespaces/other/secrets' && c.query.get('fieldSelector') === 'metadata.name=shared-cert'),
        `${c.method} ${c.path}?${c.query.toString()}`,
      );
    }
    assert.ok(!api.calls.some((c) => c.path === '/api/v1/secrets' || c.path.includes('db-password')), 'no cluster-wide Secret list, no unreferenced Secret');
  });

  it('hands leadership to the other replica when the leader stops, and the new leader writes', async () => {
    const old = await waitFor('a leader', () => leader());
    const next = old === a ? b : a;
    const before = lease(api)!;
    await old.stop();
    // A clean stop releases the Lease: the other replica need not wait for it to expire.
    await waitUntil('the other replica leads', () => next.controller.isLeader());
    const after = lease(api)!;
    assert.equal(after.spec.holderIdentity, next.id);
    assert.equal(after.spec.leaseTransitions, (before.spec.leaseTransitions ?? 0) + 1);
    assert.notEqual(after.spec.acquireTime, before.spec.acquireTime);
    const mark = api.calls.length;
    api.put(routeOf('app', '/app', 'missing'));
    await waitUntil('the new leader reports the missing backend', () =>
      routeParents(api).some((p) => p.controllerName === 'zenokube.io/ingress' && p.conditions.some((c) => c.type === 'ResolvedRefs' && c.reason === 'BackendNotFound')),
    );
    assert.deepEqual([...writers(api, mark)], [next.id]);
  });
});

describe('a leader cut off from the API server (fake API server)', () => {
  let api: FakeApiServer;
  let echo: EchoBackend;
  let a: Replica;
  let b: Replica;

  before(async () => {
    api = await startFakeApiServer();
    echo = await startEcho('echo', 'web');
    seed(api, echo);
    a = await replica(api, 'replica-a');
    await waitUntil('replica-a leads', () => a.controller.isLeader());
    b = await replica(api, 'replica-b');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await echo?.close();
    await api?.close();
  });

  it('steps down when it cannot renew; the other takes over once the lease has run out; both keep routing', async () => {
    await waitUntil('replica-b routes', async () => (await send(b, '/app/x')) === 200);
    api.cutOff('replica-a', true);
    // Polled throughout: never two leaders at once.
    const one = () => {
      assert.ok(!(a.controller.isLeader() && b.controller.isLeader()), 'two leaders');
      return true;
    };
    await waitUntil('replica-a steps down', () => one() && !a.controller.isLeader());
    await waitUntil('replica-b leads', () => one() && b.controller.isLeader());
    const taken = lease(api)!;
    assert.equal(taken.spec.holderIdentity, 'replica-b');
    assert.equal(taken.spec.leaseTransitions, 1);
    // Routing never depended on the leader: the cut-off replica still serves from its cache.
    assert.equal(await send(a, '/app/x'), 200);
    assert.equal(await send(b, '/app/x'), 200);
    // Back on the network, replica-a sees a live holder and stays a follower while replica-b renews.
    api.cutOff('replica-a', false);
    const renewals = new Set<string>();
    await waitUntil('three renewals by replica-b', () => {
      renewals.add(lease(api)!.spec.renewTime!);
      assert.equal(a.controller.isLeader(), false);
      return renewals.size >= 3;
    });
    assert.ok(api.calls.some((c) => c.who === 'replica-a' && c.path.endsWith(`/leases/${LEADER_LEASE_NAME}`) && c.status === 200), 'replica-a reads the Lease again');
    assert.equal(lease(api)!.spec.holderIdentity, 'replica-b');
  });
});

describe('status writes with resourceVersion, backoff (fake API server)', () => {
  let api: FakeApiServer;
  let echo: EchoBackend;
  let r: Replica;
  const statusPath = '/apis/gateway.networking.k8s.io/v1/namespaces/web/httproutes/app/status';
  const theirs = {
    parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'web', name: 'elsewhere' },
    controllerName: 'other.example/gw',
    conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'theirs', lastTransitionTime: '2024-01-01T00:00:00Z' }],
  };

  before(async () => {
    api = await startFakeApiServer();
    echo = await startEcho('echo', 'web');
    seed(api, echo);
    // Another controller writes its own parent entry between our read of the route and our write.
    api.beforeRequest(
      (method, path) => method === 'PATCH' && path === statusPath,
      () => api.setStatus(ROUTES, 'web', 'app', { parents: [theirs] }),
    );
    r = await replica(api, 'replica-a', { election: false, backoff: { baseMs: 50, maxMs: 400 } });
  });
  after(async () => {
    await r?.stop();
    await echo?.close();
    await api?.close();
  });

  it('a conflicting write is answered 409, re-read, recomputed and written over the fresh version', async () => {
    const parents = await waitFor('our route status', () => {
      const p = routeParents(api);
      return p.some((x) => x.controllerName === 'zenokube.io/ingress') ? p : undefined;
    });
    const answers = api.calls.filter((c) => c.method === 'PATCH' && c.path === statusPath).map((c) => c.status);
    assert.deepEqual(answers.slice(0, 2), [409, 200]);
    assert.ok(api.calls.some((c) => c.method === 'GET' && c.path === statusPath.replace('/status', '')), 're-read after the conflict');
    // Their entry survives: a write without resourceVersion would have replaced the whole list.
    assert.deepEqual(parents.find((p) => p.controllerName === 'other.example/gw'), theirs);
    assert.equal(parents.filter((p) => p.controllerName === 'zenokube.io/ingress').length, 1);
  });

  it('a failed write is requeued with backoff and lands once the API server answers again, without another event', async () => {
    await waitUntil('our status settled', () => routeParents(api).some((p) => p.controllerName === 'zenokube.io/ingress'));
    api.cutOff('replica-a', true);
    const mark = api.calls.length;
    // Shown to the controller by the watch (already open), written back while the API refuses writes.
    api.put(routeOf('app', '/app', 'missing'));
    await waitUntil('three refused attempts', () => api.calls.slice(mark).filter((c) => c.who === 'replica-a' && c.status === 503).length >= 3);
    api.cutOff('replica-a', false);
    await waitUntil('the requeued write lands', () =>
      routeParents(api).some((p) => p.controllerName === 'zenokube.io/ingress' && p.conditions.some((c) => c.reason === 'BackendNotFound')),
    );
    // The routing change itself never waited for the API server.
    assert.equal(await send(r, '/app/x'), 500);
  });

  it('a status computed for an older generation is not written over a newer spec; the newer one is', async () => {
    const mark = api.calls.length;
    let generation = 0;
    // The route's spec changes between our read and our write: the 409 re-read shows a newer generation.
    api.beforeRequest(
      (method, path) => method === 'PATCH' && path === statusPath,
      () => (generation = Number(api.put(routeOf('app', '/app', 'echo')).metadata.generation)),
    );
    api.put(routeOf('app', '/app', 'missing-too'));
    await waitUntil('status for the newest generation', () => {
      const ours = routeParents(api).find((p) => p.controllerName === 'zenokube.io/ingress');
      return generation > 0 && ours?.conditions.every((c) => c.observedGeneration === generation) === true;
    });
    const ours = routeParents(api).find((p) => p.controllerName === 'zenokube.io/ingress')!;
    assert.equal(ours.conditions.find((c) => c.type === 'ResolvedRefs')?.status, 'True', 'the newest spec (backend echo) resolves');
    assert.equal(api.calls.slice(mark).filter((c) => c.method === 'PATCH' && c.path === statusPath)[0]?.status, 409);
  });
});

describe('the Lease: taken only once expired, never over a concurrent update (fake API server)', () => {
  let api: FakeApiServer;
  let echo: EchoBackend;
  let r: Replica | undefined;
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases/${LEADER_LEASE_NAME}`;
  const ghostLease = () => {
    const now = new Date().toISOString();
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEADER_LEASE_NAME, namespace: LEASE_NS }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 3, acquireTime: now, renewTime: now, leaseTransitions: 4 } };
  };

  before(async () => {
    api = await startFakeApiServer();
    echo = await startEcho('echo', 'web');
    seed(api, echo);
    // Another replica holds the Lease and, until the race below, looks alive.
    api.put(ghostLease() as never);
  });
  after(async () => {
    await r?.stop();
    await echo?.close();
    await api?.close();
  });

  it('waits out a live holder, loses the race to its renewal with 409, then takes over once it stops renewing', async () => {
    let raced = false;
    // The holder renews between the candidate's read and its update.
    api.beforeRequest(
      (method, path) => method === 'PUT' && path === leasePath,
      () => {
        raced = true;
        api.put(ghostLease() as never);
      },
    );
    r = await replica(api, 'replica-a');
    await waitUntil('replica-a routes', async () => (await send(r!, '/app/x')) === 200);
    await waitUntil('the race', () => raced);
    const puts = () => api.calls.filter((c) => c.who === 'replica-a' && c.method === 'PUT' && c.path === leasePath);
    await waitUntil('the answer to the racing update', () => puts()[0]?.status !== 0);
    assert.equal(puts()[0]!.status, 409);
    assert.equal(r.controller.isLeader(), false);
    assert.equal(lease(api)!.spec.holderIdentity, 'ghost');
    assert.equal(writesBy(api, 'replica-a').length, 0, 'a follower writes no status');
    // The holder is gone now: after a whole lease duration without a renewal the candidate takes over.
    await waitUntil('replica-a leads', () => r!.controller.isLeader());
    const taken = lease(api)!;
    assert.equal(taken.spec.holderIdentity, 'replica-a');
    assert.equal(taken.spec.leaseTransitions, 5);
    await waitUntil('the new leader writes status', () => writesBy(api, 'replica-a').length > 0);
  });
});

describe('periodic resync heals a missed watch event (fake API server)', () => {
  let api: FakeApiServer;
  let echo: EchoBackend;
  let healing: Replica;
  let plain: Replica;

  before(async () => {
    api = await startFakeApiServer();
    echo = await startEcho('echo', 'web');
    seed(api, echo);
    // The replica without resync leads: the other writes nothing, so no status write of its own
    // carries the changed route back to the leader through the watch.
    plain = await replica(api, 'never-resyncs', { resyncMs: 0 });
    await waitUntil('never-resyncs leads', () => plain.controller.isLeader());
    healing = await replica(api, 'resyncing', { resyncMs: 300 });
  });
  after(async () => {
    await healing?.stop();
    await plain?.stop();
    await echo?.close();
    await api?.close();
  });

  it('a route change whose watch event was dropped reaches the replica that relists, and only it', async () => {
    for (const r of [healing, plain]) await waitUntil(`${r.id} routes /app`, async () => (await send(r, '/app/x')) === 200);
    // The event is dropped for the watches open at that moment: the replica without resync has its route watch open.
    await waitUntil('never-resyncs watches routes', () => api.calls.some((c) => c.who === 'never-resyncs' && c.path === ROUTES && c.query.get('watch') === 'true'));
    api.dropEvents(ROUTES, 1);
    api.put(routeOf('app', '/moved'));
    await waitUntil('the resyncing replica follows the change', async () => (await send(healing, '/moved/x')) === 200);
    assert.equal(await send(healing, '/app/x'), 404);
    // The replica without resync never saw the event: the watch really missed it.
    assert.equal(await send(plain, '/app/x'), 200);
    assert.equal(await send(plain, '/moved/x'), 404);
    const relists = api.calls.filter((c) => c.who === 'resyncing' && c.method === 'GET' && c.path === ROUTES && c.query.get('watch') !== 'true');
    assert.ok(relists.length >= 2, 'the first list and at least one relist');
  });
});

describe('zenokube ingress --kube --resync-seconds', () => {
  it('rejects a period that is not a whole number of seconds with usage and exit code 2', async () => {
    const child = spawn(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'ingress', '--kube', '--resync-seconds', '-5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    assert.equal(code, 2);
    assert.match(err, /--resync-seconds must be an integer 0\.\.86400/);
    assert.match(err, /usage: zenokube ingress/);
  });
});
