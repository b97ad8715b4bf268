// scope-reconcile against a faithful in-process fake of the Kubernetes API server
// (tests/e2e/ingress-fake-apiserver.ts: resourceVersion preconditions and 409 conflicts, watch,
// finalizers and deletionTimestamp, server-side apply with field managers, the status
// subresource). Not a real cluster: no CloudNativePG, Gateway controller or RemoteSecret operator
// runs, so the tests play their part by writing the status those controllers would write.
import { after, before, describe, it } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { startFakeApiServer, type FakeApiServer } from '#tests/e2e/ingress-fake-apiserver';
import { silentLogger } from '#shared/log/index';
import { createReconcileApp, resync } from './app.js';
import { createKubeApi } from './kube.js';
import type { Reconciler } from './deps.js';
import { createVaultApi } from './vault-api.js';

const SCOPES = '/apis/scope.zenokube.io/v1alpha1/zenoscopes';
const APPS = '/apis/scope.zenokube.io/v1alpha1/zenoapps';
const DBS = '/apis/postgresql.cnpg.io/v1/databases';
const ROLES = '/apis/postgresql.cnpg.io/v1/databaseroles';
const ROUTES = '/apis/gateway.networking.k8s.io/v1/httproutes';

const example = (name = 'payment-team') => ({
  apiVersion: 'scope.zenokube.io/v1alpha1',
  kind: 'ZenoScope',
  metadata: { name },
  spec: {
    database: { enabled: true, clusterRef: { name: 'shared-db-prod' }, extensions: ['uuid-ossp', 'pgcrypto'] },
    ingress: { enabled: true, hosts: [{ hostname: 'api.payments.zenokube.local', paths: [{ path: '/', service: { name: 'payment-api', port: 8080 } }] }] },
    monitoring: { enabled: true },
  },
});

/** An ApiServerSource event in binary mode (resource mode: the object is the data). */
const event = (object: unknown, type = 'dev.knative.apiserver.resource.update') =>
  new Request('http://scope/', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': crypto.randomUUID(), 'ce-source': 'https://10.0.0.1:443', 'ce-type': type },
    body: JSON.stringify(object),
  });

let fake: FakeApiServer;
let r: Reconciler;
let app: ReturnType<typeof createReconcileApp>;


/** Plays CloudNativePG: every Database and DatabaseRole reported applied. */
function cnpgApplies(): void {
  for (const c of [DBS, ROLES]) for (const o of list(c)) if ((o.status as any)?.applied !== true) fake.setStatus(c, o.metadata.namespace, o.metadata.name, { applied: true });
}
/** Plays the Gateway's controller: every HTTPRoute accepted. */
function gatewayAccepts(): void {
  for (const o of list(ROUTES)) fake.setStatus(ROUTES, o.metadata.namespace, o.metadata.name, { parents: [{ parentRef: { name: 'zenokube' }, controllerName: 'zenokube.io/ingress', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] }] });
}

/** The objects of a collection, through the API as a client sees them. */
function list(collection: string): any[] {
  return listed.get(collection) ?? [];
}
const listed = new Map<string, any[]>();
async function refresh(): Promise<void> {
  for (const c of [DBS, ROLES, ROUTES, SCOPES, APPS, '/api/v1/namespaces', '/api/v1/secrets', '/apis/monitoring.coreos.com/v1/servicemonitors']) {
    const res = await fetch(`${fake.url}${c}`);
    listed.set(c, ((await res.json()) as { items: any[] }).items);
  }
}

async function hint(object: unknown) {
  const res = await app.request(event(object));
  await refresh();
  return res;
}
const scope = (name = 'payment-team') => list(SCOPES).find((o) => o.metadata.name === name);
const cond = (o: any, type: string) => o.status?.conditions?.find((c: any) => c.type === type);
const writes = (since: number) => fake.calls.slice(since).filter((c) => c.method !== 'GET' && !c.path.includes('/leases'));

describe('scope-reconcile', () => {
  before(async () => {
    fake = await startFakeApiServer();
    r = { kube: createKubeApi({ server: fake.url, token: 'scope-reconcile' }), log: silentLogger, leaseNamespace: 'zenokube-system', holder: 'pod-a', now: () => new Date() };
    app = createReconcileApp(r);
  });
  after(() => fake.close());

  it('provisions the example step by step as the controllers it waits for report, with server-side apply and observedGeneration', async () => {
    fake.put(example());
    let res = await hint(example());
    assert.equal(res.status, 200);
    assert.deepEqual(scope().metadata.finalizers, ['scope.zenokube.io/teardown']);
    assert.equal(list('/api/v1/namespaces').find((n) => n.metadata.name === 'payment-team')?.metadata.labels['scope.zenokube.io/scope'], 'payment-team');
    assert.equal(list(ROLES).length, 2);
    assert.equal(list(DBS).length, 0, 'no Database before its roles are applied');
    assert.equal(cond(scope(), 'DatabaseReady').reason, 'RoleNotApplied');
    assert.equal(cond(scope(), 'DatabaseReady').observedGeneration, 1);
    assert.equal(scope().status.observedGeneration, 1);
    const applies = fake.calls.filter((c) => c.method === 'PATCH' && c.query.get('fieldManager'));
    assert.ok(applies.length >= 5 && applies.every((c) => c.query.get('fieldManager')!.startsWith('zenokube-scope.')));

    cnpgApplies();
    await hint(example());
    assert.equal(list(DBS).length, 1);
    assert.deepEqual(list(DBS)[0].spec.extensions, [{ name: 'uuid-ossp', ensure: 'present' }, { name: 'pgcrypto', ensure: 'present' }]);
    cnpgApplies();
    res = await hint(example());
    const creds = list('/api/v1/secrets').find((s) => s.metadata.namespace === 'payment-team' && s.metadata.name === 'payment-team-database');
    assert.equal(Buffer.from(creds.data.dbname, 'base64').toString(), 'payment_team');
    assert.equal(Buffer.from(creds.data.host, 'base64').toString(), 'shared-db-prod-rw.cnpg-system.svc');
    const password = list('/api/v1/secrets').find((s) => s.metadata.namespace === 'cnpg-system').data.password;
    assert.equal(creds.data.password, password, 'the role’s generated password, copied');
    assert.equal(cond(scope(), 'RouteReady').reason, 'RouteNotAccepted');
    gatewayAccepts();
    res = await hint(example());
    assert.equal(res.status, 200);
    assert.equal(list('/apis/monitoring.coreos.com/v1/servicemonitors').length, 1);
    assert.equal(cond(scope(), 'Ready').status, 'True');
    assert.equal(scope().status.phase, 'Ready');
  });

  it('writes nothing when the world already holds the spec (idempotent), and keeps lastTransitionTime', async () => {
    const since = fake.calls.length;
    const before = cond(scope(), 'Ready').lastTransitionTime;
    await hint(example());
    assert.deepEqual(writes(since), []);
    assert.equal(cond(scope(), 'Ready').lastTransitionTime, before);
  });

  it('reconciles a spec change and reports the new generation', async () => {
    const changed = example();
    (changed.spec as any).monitoring.enabled = false;
    fake.put({ ...scope(), spec: changed.spec });
    await hint(example());
    assert.equal(scope().metadata.generation, 2);
    assert.equal(scope().status.observedGeneration, 2);
    assert.equal(list('/apis/monitoring.coreos.com/v1/servicemonitors').length, 0);
    assert.equal(cond(scope(), 'MonitoringReady').reason, 'Disabled');
  });

  it('re-reads and recomputes after a resourceVersion conflict', async () => {
    fake.put(example('other-team'));
    // Someone else writes the object just before our finalizer patch: it carries a stale resourceVersion.
    fake.beforeRequest((m, p) => m === 'PATCH' && p === `${SCOPES}/other-team`, () => fake.put({ ...fake.get(SCOPES, '', 'other-team')!, metadata: { ...fake.get(SCOPES, '', 'other-team')!.metadata, labels: { team: 'other' } } }));
    const since = fake.calls.length;
    const res = await hint(example('other-team'));
    assert.equal(res.status, 200);
    assert.ok(fake.calls.slice(since).some((c) => c.status === 409 && c.path === `${SCOPES}/other-team`), 'a 409 was answered');
    assert.deepEqual(scope('other-team').metadata.finalizers, ['scope.zenokube.io/teardown']);
    assert.equal(scope('other-team').metadata.labels.team, 'other', 'their write kept');
  });

  it('refuses to run while another pod holds the resource’s lease', async () => {
    const uid = scope('other-team').metadata.uid;
    fake.put({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: `scope-${uid}`, namespace: 'zenokube-system' }, spec: { holderIdentity: 'pod-b', leaseDurationSeconds: 60, renewTime: new Date().toISOString() } });
    const since = fake.calls.length;
    const res = await hint(example('other-team'));
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code: string }).code, 'reconcile_busy');
    assert.deepEqual(writes(since), []);
    // An expired lease is taken over.
    fake.put({ ...fake.get('/apis/coordination.k8s.io/v1/leases', 'zenokube-system', `scope-${uid}`)!, spec: { holderIdentity: 'pod-b', leaseDurationSeconds: 60, renewTime: '2020-01-01T00:00:00.000000Z' } });
    assert.equal((await hint(example('other-team'))).status, 200);
  });

  it('tears down in reverse order, waits for CloudNativePG’s finalizers, and removes its own last', async () => {
    // CloudNativePG keeps its objects until it has dropped them: a finalizer of its own.
    for (const c of [DBS, ROLES]) for (const o of list(c)) if (o.metadata.labels['scope.zenokube.io/owner-uid'] === scope().metadata.uid || o.metadata.labels[`sharer.scope.zenokube.io/${scope().metadata.uid}`]) fake.put({ ...fake.get(c, o.metadata.namespace, o.metadata.name)!, metadata: { ...fake.get(c, o.metadata.namespace, o.metadata.name)!.metadata, finalizers: ['cnpg.io/deleteDatabaseRole'] } });
    const since = fake.calls.length;
    fake.remove(SCOPES, '', 'payment-team');
    await refresh();
    assert.ok(scope().metadata.deletionTimestamp);
    let res = await hint(scope());
    assert.equal(res.status, 200);
    assert.equal(cond(scope(), 'DatabaseReady').reason, 'TearingDown');
    const deletes = () => fake.calls.slice(since).filter((c) => c.method === 'DELETE' && !c.path.includes('/leases')).map((c) => c.path.split('/').slice(-2).join('/'));
    assert.deepEqual(deletes(), ['httproutes/payment-team-0', 'secrets/payment-team-database', 'databases/zs-db-payment-team']);
    // CloudNativePG drops the database and lets its object go; the roles follow, the login role first.
    const release = (c: string, name: string) => fake.put({ ...fake.get(c, 'cnpg-system', name)!, metadata: { ...fake.get(c, 'cnpg-system', name)!.metadata, finalizers: [] } });
    release(DBS, 'zs-db-payment-team');
    await hint(scope());
    release(ROLES, 'zs-role-payment-team');
    await hint(scope());
    release(ROLES, 'zs-db-payment-team-owner');
    res = await hint(scope() ?? example());
    const d = deletes();
    // The login role (and its password) before the owner role, the namespace after every database object.
    assert.ok(d.indexOf('databaseroles/zs-role-payment-team') < d.indexOf('databaseroles/zs-db-payment-team-owner'));
    assert.ok(d.indexOf('secrets/zs-role-payment-team') < d.indexOf('databaseroles/zs-db-payment-team-owner'));
    assert.ok(d.indexOf('databaseroles/zs-db-payment-team-owner') < d.indexOf('namespaces/payment-team'));
    assert.equal(scope(), undefined, 'the finalizer was removed and the ZenoScope is gone');
  });

  it('keeps a database shared by two ZenoApps until the last one goes', async () => {
    const zapp = (name: string) => ({ apiVersion: 'scope.zenokube.io/v1alpha1', kind: 'ZenoApp', metadata: { name, namespace: 'shop' }, spec: { database: { enabled: true, clusterRef: { name: 'shared-db-prod' }, name: 'shop' } } });
    for (const name of ['cart', 'orders']) {
      fake.put(zapp(name));
      await hint(zapp(name));
      cnpgApplies();
      await hint(zapp(name));
      cnpgApplies();
      await hint(zapp(name));
    }
    const app = (name: string) => list(APPS).find((o) => o.metadata.name === name);
    assert.equal(cond(app('cart'), 'Ready').status, 'True');
    assert.equal(cond(app('orders'), 'Ready').status, 'True');
    const db = () => list(DBS).find((o) => o.metadata.name === 'zs-db-shop');
    assert.equal(Object.keys(db().metadata.labels).filter((k) => k.startsWith('sharer.')).length, 2);
    fake.remove(APPS, 'shop', 'cart');
    await hint(app('cart'));
    await hint(app('cart'));
    assert.equal(app('cart'), undefined);
    assert.ok(db(), 'orders still uses it');
    assert.deepEqual(Object.keys(db().metadata.labels).filter((k) => k.startsWith('sharer.')), [`sharer.scope.zenokube.io/${app('orders').metadata.uid}`]);
    fake.remove(APPS, 'shop', 'orders');
    for (let i = 0; i < 3 && app('orders'); i++) await hint(app('orders') ?? zapp('orders'));
    assert.equal(db(), undefined, 'dropped with the last one');
    assert.equal(list(ROLES).filter((o) => o.metadata.namespace === 'cnpg-system' && o.metadata.name.includes('shop')).length, 0);
  });

  it('reports a failing step in status, answers 503 so the event is retried, and keeps the finalizer', async () => {
    // A vault that reads but refuses every write.
    const vault = createServer((req, res) => {
      const policy = req.method === 'GET' && req.url?.startsWith('/v1/sys/policies/acl/');
      res.writeHead(policy ? 200 : req.method === 'GET' ? 404 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(policy ? { data: { policy: '# an older policy' } } : { errors: req.method === 'GET' ? [] : ['storage is read-only'] }));
    });
    await new Promise<void>((ok) => vault.listen(0, '127.0.0.1', ok));
    const broken: Reconciler = { ...r, vault: createVaultApi(`http://127.0.0.1:${(vault.address() as AddressInfo).port}`, async () => 't') };
    const brokenApp = createReconcileApp(broken);
    const withVault = { ...example('vaulted'), spec: { vault: { enabled: true } } };
    fake.put(withVault);
    const res = await brokenApp.request(event(withVault));
    await refresh();
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code: string }).code, 'reconcile_failed');
    assert.equal(cond(scope('vaulted'), 'VaultReady').reason, 'Failed');
    assert.match(cond(scope('vaulted'), 'VaultReady').message, /vaultPutPolicy scope-vaulted failed: ZenoVault 500/);
    assert.equal(scope('vaulted').status.phase, 'Failed');
    fake.remove(SCOPES, '', 'vaulted');
    await refresh();
    assert.equal((await brokenApp.request(event(scope('vaulted')))).status, 503);
    await refresh();
    assert.ok(scope('vaulted'), 'the finalizer holds while the vault step fails');
    assert.deepEqual(scope('vaulted').metadata.finalizers, ['scope.zenokube.io/teardown']);
    assert.equal(cond(scope('vaulted'), 'VaultReady').reason, 'Failed');
    assert.match(cond(scope('vaulted'), 'VaultReady').message, /vaultDeletePolicy/);
    const port = (vault.address() as AddressInfo).port;
    vault.closeAllConnections();
    await new Promise((ok) => vault.close(ok));
    // A vault that cannot be reached at all: nothing can be read, Ready says so.
    const gone: Reconciler = { ...r, vault: createVaultApi(`http://127.0.0.1:${port}`, async () => 't') };
    assert.equal((await createReconcileApp(gone).request(event(scope('vaulted')))).status, 503);
    await refresh();
    assert.equal(cond(scope('vaulted'), 'Ready').reason, 'ObserveFailed');
    assert.match(cond(scope('vaulted'), 'Ready').message, /reading the current state failed/);
    assert.ok(scope('vaulted'));
  });

  it('resyncs every resource, whatever events were missed', async () => {
    fake.put(example('missed'));
    const outcomes = await resync(r);
    await refresh();
    assert.ok(outcomes.length >= 2);
    assert.deepEqual(scope('missed').metadata.finalizers, ['scope.zenokube.io/teardown']);
  });

  it('answers 400 to an event naming no object, 415 to a batch, 202 to objects that are not ours', async () => {
    assert.equal((await app.request(event({ nothing: true }))).status, 400);
    assert.equal((await app.request(event({ kind: 'ZenoApp', metadata: { name: 'x' } }))).status, 400);
    assert.equal((await app.request(event({ kind: 'ZenoScope', metadata: { name: '../../etc' } }))).status, 400);
    const bad = new Request('http://scope/', { method: 'POST', headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't' }, body: '{' });
    assert.equal((await app.request(bad)).status, 400);
    const batch = new Request('http://scope/', { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]' });
    assert.equal((await app.request(batch)).status, 415);
    const res = await app.request(event({ kind: 'Service', metadata: { name: 'payment-api', namespace: 'x', labels: {} } }));
    assert.equal(res.status, 202);
  });
});
