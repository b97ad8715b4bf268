// scope-reconcile's real side effects, for the documented payment-team ZenoScope: the function
// runs against a faithful in-process fake of the Kubernetes API server
// (tests/e2e/ingress-fake-apiserver.ts: resourceVersion preconditions and 409s, watch, finalizers
// and deletionTimestamp, server-side apply with field managers, the status subresource), with the
// real products around it: ZenoVault (api and unsealer on the real PostgreSQL, auth/kubernetes
// checking service-account tokens by TokenReview against tests/e2e/kubernetes-fake-tokenreview.ts),
// ZenoAuth (every auth function, over a socket), ZenoVault's RemoteSecret operator, and ZenoIngress
// as the Gateway's controller, watching the same fake API server and serving the route. What
// CloudNativePG does is played by tests/e2e/cnpg-stand-in.ts on the real PostgreSQL server: the
// role and database are really created there (and dropped after). Not a real cluster: no garbage
// collector and no namespace controller run, so objects inside a deleted namespace are not removed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { and, eq } from 'drizzle-orm';
import postgres from 'postgres';
import { request } from 'undici';
import { STEPS, type Step } from '#functions/scope/core/actions';
import { VAULT_AUDIENCE } from '#functions/scope/core/external';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { basicAuth, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { mintCode } from '#functions/auth/testing/grants';
import { clients, tenants } from '#functions/auth/core/schema';
import { createIngress, type Ingress, type KubeController } from '#functions/ingress/index';
import { startKubeController } from '#functions/ingress/controller/controller';
import { createKubeApi as createSyncKubeApi } from '#functions/vault/remote-secret-sync/kube';
import { syncAll, type SyncDeps } from '#functions/vault/remote-secret-sync/sync';
import { createVaultReader } from '#functions/vault/remote-secret-sync/vault-reader';
import { createLogger, silentLogger } from '#shared/log/index';
import { startEcho, type EchoBackend } from '#tests/conformance/echo-server';
import { startCnpgStandIn, type CnpgStandIn } from './cnpg-stand-in.js';
import { startFakeApiServer, type FakeApiServer } from './ingress-fake-apiserver.js';
import { startFakeKubeApi, type FakeKubeApi } from './kubernetes-fake-tokenreview.js';
import { startVaultServer, type VaultServer } from './vault-server.js';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitUntil } from '#tests/support/poll';
import { createReconcileApp, resync } from '#functions/scope/reconcile/app';
import { createAuthApi, type AuthApi } from '#functions/scope/reconcile/auth-api';
import type { Reconciler } from '#functions/scope/reconcile/deps';
import { createKubeApi, type KubeApi } from '#functions/scope/reconcile/kube';
import { createVaultApi, type VaultApi } from '#functions/scope/reconcile/vault-api';

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SCOPES = '/apis/scope.zenokube.io/v1alpha1/zenoscopes';
const GW = 'gateway.networking.k8s.io/v1';
const OPERATOR = 'vault-remote-secret-sync';
/** The example's role and database names are server-wide: files that make them hold this lock. */
const EXAMPLE_LOCK = [7265, 20] as const;
/** What the scoped kubeconfig carries as the cluster's CA (the fake API server speaks plain HTTP). */
const TEST_CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

/** The documented example, exactly as docs/scope.md gives it. */
const paymentTeam = () => ({
  apiVersion: 'scope.zenokube.io/v1alpha1',
  kind: 'ZenoScope',
  metadata: { name: 'payment-team' },
  spec: {
    database: { enabled: true, clusterRef: { name: 'shared-db-prod' }, extensions: ['uuid-ossp', 'pgcrypto'] },
    vault: { enabled: true },
    ingress: { enabled: true, hosts: [{ hostname: 'api.payments.zenokube.local', paths: [{ path: '/', service: { name: 'payment-api', port: 8080 } }] }] },
    oauth: { enabled: true, redirectUris: ['https://api.payments.zenokube.local/callback'] },
    monitoring: { enabled: true },
  },
});
/** Another team with only a database, to show the two are isolated. */
const ledgerTeam = () => ({ apiVersion: 'scope.zenokube.io/v1alpha1', kind: 'ZenoScope', metadata: { name: 'ledger-team' }, spec: { database: { enabled: true, clusterRef: { name: 'shared-db-prod' } } } });

const event = (object: unknown) =>
  new Request('http://scope/', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': crypto.randomUUID(), 'ce-source': 'https://10.0.0.1:443', 'ce-type': 'dev.knative.apiserver.resource.update' },
    body: JSON.stringify(object),
  });

/** A proxy in front of ZenoVault that can be taken down: every request then answers 503. */
async function startOutageProxy(target: string): Promise<{ url: string; down: boolean; downOn?: (method: string, path: string) => boolean; close(): Promise<void> }> {
  const state = { url: '', down: false, downOn: undefined as ((method: string, path: string) => boolean) | undefined, close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    if (state.downOn?.(req.method ?? '', req.url ?? '')) {
      state.down = true;
      state.downOn = undefined;
    }
    if (state.down) {
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ errors: ['Vault is sealed'] }));
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)).map(([k, v]) => [k, String(v)]));
    const up = await fetch(`${target}${req.url}`, { method: req.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await up.arrayBuffer()));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return state;
}

let lock: postgres.ReservedSql;
let admin: postgres.Sql;
let tdb: TestDatabase;
let kubeAuth: FakeKubeApi;
let vs: VaultServer;
let za: AuthHarness;
let api: FakeApiServer;
let echo: EchoBackend;
let ingress: Ingress;
let controller: KubeController;
let cnpg: CnpgStandIn;
let proxy: Awaited<ReturnType<typeof startOutageProxy>>;
let dir: string;
let rootToken: string;
let r: Reconciler;
let app: ReturnType<typeof createReconcileApp>;
let sync: SyncDeps;
/** Every write the reconciler made, as the step it belongs to, in order. */
const timeline: Step[] = [];

const vault = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${vs.endpoint}/v1/${path}`, { method, headers: { 'x-vault-token': token, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
};

/** The reconciler's Kubernetes calls, each write noted with the step label of the object it touches. */
function recordingKube(inner: KubeApi): KubeApi {
  const note = (o: { metadata?: { labels?: Record<string, string> } } | undefined) => {
    const step = o?.metadata?.labels?.['scope.zenokube.io/step'] as Step | undefined;
    if (step) timeline.push(step);
  };
  return {
    ...inner,
    apply: (o, m, f) => (note(o), inner.apply(o, m, f)),
    create: (o) => (note(o), inner.create(o)),
    remove: async (ref, rv) => (note(await inner.get(ref)), inner.remove(ref, rv)),
    mergePatch: async (ref, patch, sub) => (ref.kind.startsWith('Zeno') || ref.kind === 'Lease' ? undefined : note(await inner.get(ref)), inner.mergePatch(ref, patch, sub)),
  };
}
function recordingVault(inner: VaultApi): VaultApi {
  const stepOf = (path: string): Step => (path.endsWith('/oauth') ? 'OAuthClient' : path.endsWith('/kubeconfig') ? 'Kubeconfig' : 'Secrets');
  return {
    ...inner,
    putPolicy: (n, p) => (timeline.push('Vault'), inner.putPolicy(n, p)),
    deletePolicy: (n) => (timeline.push('Vault'), inner.deletePolicy(n)),
    putRole: (n, role) => (timeline.push('Vault'), inner.putRole(n, role)),
    deleteRole: (n) => (timeline.push('Vault'), inner.deleteRole(n)),
    putSecret: (p, d) => (timeline.push(stepOf(p)), inner.putSecret(p, d)),
    deleteSecret: (p) => (timeline.push(stepOf(p)), inner.deleteSecret(p)),
  };
}
function recordingAuth(inner: AuthApi): AuthApi {
  return {
    ...inner,
    createClient: (c) => (timeline.push('OAuthClient'), inner.createClient(c)),
    rotateSecret: (t, c) => (timeline.push('OAuthClient'), inner.rotateSecret(t, c)),
    deleteClient: (t, c) => (timeline.push('OAuthClient'), inner.deleteClient(t, c)),
  };
}

/** The order in which steps were first written since `from`. */
const stepsWritten = (from: number) => [...new Set(timeline.slice(from))];

const scope = (name = 'payment-team') => api.get(SCOPES, '', name) as any;
const cond = (name: string, type: string) => scope(name)?.status?.conditions?.find((c: any) => c.type === type);
const roleExists = async (name: string) => (await admin`select 1 from pg_roles where rolname = ${name}`).length > 0;
const databaseExists = async (name: string) => (await admin`select 1 from pg_database where datname = ${name}`).length > 0;

/** One hint to the function, then what the controllers it waits for do in a cluster, once each. */
async function round(name: string): Promise<Response> {
  const res = await app.request(event(scope(name) ?? { kind: 'ZenoScope', metadata: { name } }));
  await cnpg.pass();
  await syncAll(sync);
  // ZenoIngress reports on every route it was given (it watches the same API server).
  await waitUntil('the ingress reports on the routes', () => routesOf(name).every((rt) => (rt.status?.parents ?? []).length > 0));
  return res;
}
function routesOf(name: string): any[] {
  const got = api.get(`/apis/${GW}/httproutes`, name, `${name}-0`);
  return got ? [got] : [];
}
/** Rounds until the resource is Ready (or gone, when deleting); every answer on the way. */
async function settle(name: string, until: () => boolean, max = 12): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < max && !until(); i++) statuses.push((await round(name)).status);
  assert.ok(until(), `${name} did not settle: ${JSON.stringify(scope(name)?.status)}`);
  return statuses;
}
const ready = (name: string) => () => cond(name, 'Ready')?.status === 'True';
const gone = (name: string) => () => scope(name) === undefined;

/** The application's own login: a token of its ServiceAccount, with the vault audience. */
async function appLogin(): Promise<{ status: number; token?: string }> {
  const jwt = await kubeAuth.token('payment-team', 'payment-team-app', { audiences: [VAULT_AUDIENCE] });
  const res = await vault('POST', 'auth/kubernetes/login', '', { role: 'scope-payment-team', jwt });
  return { status: res.status, token: res.body.auth?.client_token };
}

/** Asks ZenoIngress for the example's host. */
async function throughIngress(): Promise<number> {
  const addr = ingress.address('zenokube-system/zenokube', 80);
  assert.ok(addr, 'the Gateway listens');
  const res = await request(`http://127.0.0.1:${addr.port}/orders`, { headers: { host: 'api.payments.zenokube.local' } });
  await res.body.dump();
  return res.statusCode;
}

before(async () => {
  admin = postgres(SERVER_URL, { max: 2, onnotice: () => {} });
  lock = await admin.reserve();
  await lock`select pg_advisory_lock(${EXAMPLE_LOCK[0]}, ${EXAMPLE_LOCK[1]})`;
  // Left by a run that was killed: under the lock, nobody else owns these names.
  for (const db of ['payment_team', 'ledger_team']) await admin.unsafe(`drop database if exists "${db}" with (force)`);
  for (const role of ['payment_team', 'payment_team_owner', 'ledger_team', 'ledger_team_owner']) await admin.unsafe(`drop role if exists "${role}"`);

  tdb = await createTestDatabase();
  kubeAuth = await startFakeKubeApi();
  kubeAuth.createServiceAccount('vault', 'vault-auth');
  kubeAuth.grantTokenReview('vault', 'vault-auth');
  kubeAuth.createServiceAccount('zenokube', OPERATOR);
  vs = await startVaultServer(tdb.database);
  const init = await fetch(`${vs.endpoint}/v1/sys/init`, { method: 'PUT', body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) }).then((x) => x.json() as Promise<{ root_token: string; keys: string[] }>);
  rootToken = init.root_token;
  assert.equal((await vault('PUT', 'sys/unseal', '', { key: init.keys[0] })).status, 200);
  assert.equal((await vault('POST', 'auth/kubernetes/config', rootToken, { kubernetes_host: kubeAuth.url, token_reviewer_jwt: await kubeAuth.token('vault', 'vault-auth'), disable_local_ca_jwt: true })).status, 204);
  await vault('PUT', 'sys/policies/acl/zenokube-remote-secrets', rootToken, { policy: 'path "secret/data/scopes/*" { capabilities = ["read"] }\npath "secret/data/apps/*" { capabilities = ["read"] }\n' });
  await vault('POST', 'auth/kubernetes/role/zenokube-remote-secrets', rootToken, { bound_service_account_names: [OPERATOR], bound_service_account_namespaces: ['zenokube'], audience: 'vault', token_policies: ['zenokube-remote-secrets'], token_ttl: '10m' });
  proxy = await startOutageProxy(vs.baseUrl);
  dir = await mkdtemp(join(tmpdir(), 'scope-provisioning-'));
  await writeFile(join(dir, 'vault-token'), await kubeAuth.token('zenokube', OPERATOR, { audiences: ['vault'] }));

  za = await startAuthHarness(tdb.database, { listen: true });
  const [existing] = await tdb.database.db.select().from(tenants).where(eq(tenants.slug, 'default'));
  if (!existing) await makeTenant(tdb.database.db, 'default');

  api = await startFakeApiServer();
  echo = await startEcho('payment-api', 'payment-team');
  api.put({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'zenokube' }, spec: { controllerName: 'zenokube.io/ingress' } });
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'zenokube-system', labels: { 'kubernetes.io/metadata.name': 'zenokube-system' } } });
  api.put({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'zenokube', namespace: 'zenokube-system' }, spec: { gatewayClassName: 'zenokube', listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }] } });
  // The team's application, as its own Deployment would be: a Service and its endpoints.
  api.put({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'payment-api', namespace: 'payment-team' }, spec: { ports: [{ name: 'http', port: 8080 }] } });
  api.put({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'payment-api-1', namespace: 'payment-team', labels: { 'kubernetes.io/service-name': 'payment-api' } }, endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: echo.port }] } as never);
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'fake', server: api.url, skipTLSVerify: true }], users: [{ name: 'ingress', token: 'zenokube-ingress' }], contexts: [{ name: 'fake', cluster: 'fake', user: 'ingress' }], currentContext: 'fake' });
  ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100 });
  controller = await startKubeController({ kc, ingress, log: createLogger({ level: 'error', sink: () => {} }), debounceMs: 20 });
  cnpg = startCnpgStandIn(api, SERVER_URL);

  r = {
    kube: recordingKube(createKubeApi({ server: api.url, token: 'scope-reconcile' })),
    vault: recordingVault(createVaultApi(`${proxy.url}/vault`, async () => rootToken)),
    auth: recordingAuth(createAuthApi(za.baseUrl, 'zeno-admin', za.adminSecret)),
    log: silentLogger,
    leaseNamespace: 'zenokube',
    holder: 'scope-reconcile-0',
    now: () => new Date(),
    cluster: { server: api.url, ca: TEST_CA },
  };
  app = createReconcileApp(r);
  sync = { kube: createSyncKubeApi({ server: api.url, token: OPERATOR }), vault: createVaultReader({ address: vs.endpoint, jwtFile: join(dir, 'vault-token') }), log: silentLogger, now: () => new Date() };
});

after(async () => {
  await controller?.stop();
  await ingress?.close();
  await echo?.close();
  await cnpg?.close();
  await api?.close();
  await proxy?.close();
  await za?.close();
  await vs?.close();
  await tdb?.drop();
  await kubeAuth?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (admin) {
    for (const db of ['payment_team', 'ledger_team']) await admin.unsafe(`drop database if exists "${db}" with (force)`);
    for (const role of ['payment_team', 'payment_team_owner', 'ledger_team', 'ledger_team_owner']) await admin.unsafe(`drop role if exists "${role}"`);
    await lock`select pg_advisory_unlock(${EXAMPLE_LOCK[0]}, ${EXAMPLE_LOCK[1]})`;
    lock.release();
    await admin.end();
  }
});

describe('scope-reconcile with the real products (payment-team)', () => {
  let from = 0;

  it('provisions the documented example in dependency order, through a ZenoVault outage in the middle', async () => {
    from = timeline.length;
    api.put(paymentTeam());
    // ZenoVault goes down just as the OAuth client's secret is being delivered to it.
    proxy.downOn = (method, path) => method === 'POST' && path.endsWith('/secret/data/scopes/payment-team/oauth');
    let failedAt: { reason: string; message: string } | undefined;
    for (let i = 0; i < 12 && !proxy.down; i++) {
      const res = await round('payment-team');
      if (proxy.down) {
        assert.equal(res.status, 503);
        assert.equal(((await res.json()) as { code: string }).code, 'reconcile_failed');
        failedAt = cond('payment-team', 'OAuthClientReady');
      }
    }
    assert.ok(failedAt, 'the outage was hit');
    // The status says which step failed and why; nothing after it was made.
    assert.equal(failedAt.reason, 'Failed');
    assert.match(failedAt.message, /oauthCreateClient default\/scope-payment-team failed: ZenoVault 503/);
    assert.equal(cond('payment-team', 'Ready').status, 'False');
    assert.equal(scope().status.phase, 'Failed');
    for (const type of ['NamespaceReady', 'DatabaseReady', 'VaultReady', 'KubeconfigReady', 'SecretsReady', 'RouteReady']) assert.equal(cond('payment-team', type).status, 'True', type);
    assert.equal(cond('payment-team', 'MonitoringReady').reason, 'Waiting');
    assert.equal(api.get('/apis/monitoring.coreos.com/v1/servicemonitors', 'payment-team', 'payment-team'), undefined);

    // While it stays down, each retry fails and says so, without touching anything.
    const res = await round('payment-team');
    assert.equal(res.status, 503);
    assert.equal(cond('payment-team', 'Ready').reason, 'ObserveFailed');
    assert.match(cond('payment-team', 'Ready').message, /ZenoVault 503/);

    // Back up: the next retry completes, and the client's secret is delivered (a new one).
    proxy.down = false;
    const statuses = await settle('payment-team', ready('payment-team'));
    assert.ok(statuses.every((s) => s === 200), String(statuses));
    assert.equal(scope().status.phase, 'Ready');
    for (const c of scope().status.conditions) {
      assert.equal(c.status, 'True', `${c.type}: ${c.message}`);
      assert.equal(c.observedGeneration, 1);
    }
    assert.deepEqual(scope().metadata.finalizers, ['scope.zenokube.io/teardown']);
    // Each step was first written only once every earlier one was done.
    assert.deepEqual(stepsWritten(from), ['Namespace', 'Database', 'Vault', 'Kubeconfig', 'Secrets', 'Route', 'OAuthClient', 'Monitoring']);
    const order = timeline.slice(from).map((s) => STEPS.indexOf(s));
    assert.ok(order.every((s, i) => i === 0 || s >= order[i - 1]!), `a step was written after a later one: ${timeline.slice(from).join(', ')}`);
  });

  it('made the role and database in PostgreSQL, with the extensions, reachable with the delivered credentials', async () => {
    assert.ok(await roleExists('payment_team'));
    assert.ok(await roleExists('payment_team_owner'));
    assert.ok(await databaseExists('payment_team'));
    // The credentials as the application gets them: the Secret the RemoteSecret operator synced.
    const secret = api.get('/api/v1/secrets', 'payment-team', 'payment-team-database') as any;
    const creds = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    assert.equal(creds.username, 'payment_team');
    assert.equal(creds.dbname, 'payment_team');
    assert.equal(creds.host, 'shared-db-prod-rw.cnpg-system.svc');
    // The cluster's service is this server here.
    const u = new URL(SERVER_URL);
    const appDb = postgres({ host: u.hostname, port: Number(u.port || 5432), user: creds.username, password: creds.password, database: creds.dbname, max: 1, onnotice: () => {} });
    try {
      const exts = await appDb`select extname from pg_extension order by extname`;
      assert.deepEqual(exts.map((e) => e.extname).filter((e) => e !== 'plpgsql'), ['pgcrypto', 'uuid-ossp']);
      assert.equal((await appDb`select gen_random_uuid() is not null as ok`)[0]!.ok, true);
      await appDb`set role payment_team_owner`;
      await appDb`create table payments (id uuid primary key default uuid_generate_v4(), amount int)`;
      await appDb`insert into payments (amount) values (42)`;
    } finally {
      await appDb.end();
    }
  });

  it('isolates the team: another team’s role cannot read its tables', async () => {
    api.put(ledgerTeam());
    await settle('ledger-team', ready('ledger-team'));
    const pw = (api.get('/api/v1/secrets', 'ledger-team', 'ledger-team-database') as any).data.password as string;
    const u = new URL(SERVER_URL);
    const ledger = postgres({ host: u.hostname, port: Number(u.port || 5432), user: 'ledger_team', password: Buffer.from(pw, 'base64').toString(), database: 'payment_team', max: 1, onnotice: () => {} });
    try {
      await assert.rejects(ledger`select * from payments`, /permission denied/);
      await assert.rejects(ledger`set role payment_team_owner`, /permission denied/);
    } finally {
      await ledger.end();
    }
    fakeDelete('ledger-team');
    await settle('ledger-team', gone('ledger-team'));
    assert.equal(await databaseExists('ledger_team'), false);
  });

  it('made a vault policy and role the application logs in to, over its own path only', async () => {
    kubeAuth.createServiceAccount('payment-team', 'payment-team-app');
    const login = await appLogin();
    assert.equal(login.status, 200);
    const own = await vault('GET', 'secret/data/scopes/payment-team/database', login.token!);
    assert.equal(own.status, 200);
    assert.equal(own.body.data.data.username, 'payment_team');
    assert.equal((await vault('POST', 'secret/data/scopes/payment-team/app-config', login.token!, { data: { feature: 'on' } })).status, 200);
    assert.equal((await vault('GET', 'secret/data/scopes/ledger-team/database', login.token!)).status, 403);
    assert.equal((await vault('POST', 'secret/data/scopes/other/x', login.token!, { data: { a: 'b' } })).status, 403);
    // A service account of another namespace is not bound to the role.
    kubeAuth.createServiceAccount('ledger-team', 'intruder');
    const jwt = await kubeAuth.token('ledger-team', 'intruder', { audiences: [VAULT_AUDIENCE] });
    assert.notEqual((await vault('POST', 'auth/kubernetes/login', '', { role: 'scope-payment-team', jwt })).status, 200);
  });

  it('made an OAuth client that obtains a token with the secret delivered through the vault', async () => {
    const login = await appLogin();
    const oauth = (await vault('GET', 'secret/data/scopes/payment-team/oauth', login.token!)).body.data.data as { client_id: string; client_secret: string };
    assert.equal(oauth.client_id, 'scope-payment-team');
    const db = tdb.database.db;
    const [tenant] = await db.select().from(tenants).where(eq(tenants.slug, 'default'));
    const [client] = await db.select().from(clients).where(and(eq(clients.tenantId, tenant!.id), eq(clients.clientId, 'scope-payment-team')));
    assert.deepEqual(client!.redirectUris, ['https://api.payments.zenokube.local/callback']);
    assert.equal((await db.select().from(clients).where(eq(clients.clientId, 'scope-payment-team'))).length, 1, 'one client, however many retries');
    const user = await makeUser(db, tenant!, { username: 'payer' });
    const redirect = 'https://api.payments.zenokube.local/callback';
    const code = await mintCode(db, tenant!, client!, user, redirect, 'openid');
    const res = await fetch(`${za.baseUrl}/auth/default/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(oauth.client_id, oauth.client_secret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect }).toString(),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const tokens = (await res.json()) as { access_token?: string; id_token?: string };
    assert.ok(tokens.access_token && tokens.id_token);
  });

  it('stored a scoped kubeconfig in the vault: the token the API server issued, a context in the namespace, a Role of that namespace', async () => {
    assert.equal(cond('payment-team', 'KubeconfigReady').status, 'True');
    const entry = (await vault('GET', 'secret/data/scopes/payment-team/kubeconfig', rootToken)).body.data.data as Record<string, string>;
    const issued = api.issuedTokens.filter((t) => t.namespace === 'payment-team' && t.serviceAccount === 'payment-team-kubeconfig');
    assert.equal(issued.length, 1, 'one token, however many retries and passes');
    assert.equal(issued[0]!.expirationSeconds, 86_400);
    assert.equal(entry.expirationTimestamp, issued[0]!.expirationTimestamp);
    const kc = new KubeConfig();
    kc.loadFromString(entry.kubeconfig!);
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'payment-team');
    assert.equal(kc.getCurrentUser()?.token, issued[0]!.token);
    assert.equal(kc.getCurrentCluster()?.server, api.url);
    assert.equal(Buffer.from(kc.getCurrentCluster()!.caData!, 'base64').toString(), TEST_CA);
    const role = api.get('/apis/rbac.authorization.k8s.io/v1/roles', 'payment-team', 'payment-team-kubeconfig') as any;
    assert.ok(role.rules.length > 0);
    const binding = api.get('/apis/rbac.authorization.k8s.io/v1/rolebindings', 'payment-team', 'payment-team-kubeconfig') as any;
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'payment-team-kubeconfig' });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'payment-team-kubeconfig', namespace: 'payment-team' }]);
    // The TokenRequest API of the fake refuses as a real one does.
    const post = (sa: string, body: unknown) => fetch(`${api.url}/api/v1/namespaces/payment-team/serviceaccounts/${sa}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post('nobody', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} })).status, 404);
    assert.equal((await post('payment-team-kubeconfig', { apiVersion: 'v1', kind: 'Secret' })).status, 400);
    assert.equal((await post('payment-team-kubeconfig', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 60 } })).status, 422);
    // The periodic resync, an hour before the token expires (less than a third of its life left): a new token, the vault entry follows.
    const later = r.now;
    r.now = () => new Date(Date.parse(issued[0]!.expirationTimestamp) - 3_600_000);
    try {
      const outcomes = await resync(r);
      assert.deepEqual(outcomes.map((o) => o.result), ['reconciled']);
    } finally {
      r.now = later;
    }
    const renewed = api.issuedTokens.filter((t) => t.serviceAccount === 'payment-team-kubeconfig');
    assert.equal(renewed.length, 2);
    const again = (await vault('GET', 'secret/data/scopes/payment-team/kubeconfig', rootToken)).body.data.data as Record<string, string>;
    assert.match(again.kubeconfig!, new RegExp(renewed[1]!.token.replace(/\./g, '\\.')));
    assert.equal(cond('payment-team', 'Ready').status, 'True');
  });

  it('made the HTTPRoute the ingress accepted and serves, and the ServiceMonitor', async () => {
    const route = api.get(`/apis/${GW}/httproutes`, 'payment-team', 'payment-team-0') as any;
    assert.deepEqual(route.spec.hostnames, ['api.payments.zenokube.local']);
    assert.ok(route.status.parents.some((p: any) => p.conditions.some((c: any) => c.type === 'Accepted' && c.status === 'True')));
    assert.equal(await throughIngress(), 200);
    const monitor = api.get('/apis/monitoring.coreos.com/v1/servicemonitors', 'payment-team', 'payment-team') as any;
    assert.deepEqual(monitor.spec.selector, { matchLabels: { 'scope.zenokube.io/scope': 'payment-team' } });
    assert.equal(api.get('/api/v1/namespaces', '', 'payment-team')?.metadata.labels?.['scope.zenokube.io/scope'], 'payment-team');
  });

  it('tears everything down in reverse order on deletion, then removes its finalizer', async () => {
    const from = timeline.length;
    fakeDelete('payment-team');
    assert.ok(scope().metadata.deletionTimestamp);
    await settle('payment-team', gone('payment-team'));
    assert.deepEqual(stepsWritten(from), ['Monitoring', 'OAuthClient', 'Route', 'Secrets', 'Kubeconfig', 'Vault', 'Database', 'Namespace']);
    const order = timeline.slice(from).map((s) => STEPS.indexOf(s));
    assert.ok(order.every((s, i) => i === 0 || s <= order[i - 1]!), `a step was removed before a later one: ${timeline.slice(from).join(', ')}`);
    // Really gone, everywhere.
    assert.equal(await databaseExists('payment_team'), false);
    assert.equal(await roleExists('payment_team'), false);
    assert.equal(await roleExists('payment_team_owner'), false);
    assert.equal((await appLogin()).status, 400);
    assert.equal((await vault('GET', 'sys/policies/acl/scope-payment-team', rootToken)).status, 404);
    assert.equal((await vault('GET', 'secret/data/scopes/payment-team/database', rootToken)).status, 404);
    assert.equal((await vault('GET', 'secret/data/scopes/payment-team/oauth', rootToken)).status, 404);
    assert.equal((await vault('GET', 'secret/data/scopes/payment-team/kubeconfig', rootToken)).status, 404);
    for (const c of ['/api/v1/serviceaccounts', '/apis/rbac.authorization.k8s.io/v1/roles', '/apis/rbac.authorization.k8s.io/v1/rolebindings']) assert.equal(api.get(c, 'payment-team', 'payment-team-kubeconfig'), undefined, c);
    assert.equal((await vault('GET', 'secret/data/scopes/payment-team/app-config', rootToken)).status, 200, 'what the application wrote itself is kept');
    assert.equal((await tdb.database.db.select().from(clients).where(eq(clients.clientId, 'scope-payment-team'))).length, 0);
    await waitUntil('the ingress drops the host', async () => (await throughIngress()) === 404);
    assert.equal(api.get('/apis/monitoring.coreos.com/v1/servicemonitors', 'payment-team', 'payment-team'), undefined);
    assert.equal(api.get('/api/v1/namespaces', '', 'payment-team'), undefined);
    assert.equal(scope(), undefined, 'the finalizer was removed');
  });
});

/** `kubectl delete`: the API server marks the object, its finalizer holds it. */
function fakeDelete(name: string): void {
  api.remove(SCOPES, '', name);
}
