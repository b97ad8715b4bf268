// vault-remote-secret-sync end to end, against a real ZenoVault (the api and the unsealer on the
// real PostgreSQL, KV v2 and auth/kubernetes as shipped) and a faithful in-process fake of the
// Kubernetes API server (tests/e2e/ingress-fake-apiserver.ts: resourceVersion preconditions and
// 409 conflicts, the status subresource, metadata.generation, finalizers and deletionTimestamp).
// The operator logs in to the vault with its own service-account token, which the vault checks
// with a TokenReview against the fake of the API server's authentication side
// (tests/e2e/kubernetes-fake-tokenreview.ts). Not a real cluster: no garbage collector runs, so an
// owned Secret's removal after its RemoteSecret is deleted is shown by its owner reference only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startFakeApiServer, type FakeApiServer } from '#tests/e2e/ingress-fake-apiserver';
import { startFakeKubeApi, type FakeKubeApi } from '#tests/e2e/kubernetes-fake-tokenreview';
import { startVaultServer, type VaultServer } from '#tests/e2e/vault-server';
import { silentLogger } from '#shared/log/index';
import { createSyncApp } from './app.js';
import { createKubeApi } from './kube.js';
import { MANAGED_LABEL } from './resource.js';
import { syncAll, type SyncDeps } from './sync.js';
import { createVaultReader } from './vault-reader.js';

const RS = '/apis/vault.zenokube.io/v1alpha1/remotesecrets';
const SECRETS = '/api/v1/secrets';
const OPERATOR = 'vault-remote-secret-sync';

let tdb: TestDatabase;
let vs: VaultServer;
let api: FakeApiServer;
let kubeAuth: FakeKubeApi;
let dir: string;
let rootToken: string;
let unsealKey: string;
let clock = Date.parse('2026-12-07T12:00:00Z');
let deps: SyncDeps;
let app: ReturnType<typeof createSyncApp>;

const vault = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${vs.endpoint}/v1/${path}`, { method, headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
};
const putSecret = async (path: string, data: Record<string, string>) => assert.equal((await vault('POST', `secret/data/${path}`, { data })).status, 200);

/** An ApiServerSource event in binary mode (resource mode: the object is the data). */
const event = (object: unknown, type = 'dev.knative.apiserver.resource.update') =>
  new Request('http://sync/', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': crypto.randomUUID(), 'ce-source': 'https://10.0.0.1:443', 'ce-type': type },
    body: JSON.stringify(object),
  });

const remoteSecret = (name: string, spec: Record<string, unknown>, namespace = 'shop') => ({ apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret', metadata: { name, namespace }, spec });
const rs = (name: string, ns = 'shop') => api.get(RS, ns, name) as any;
const secret = (name: string, ns = 'shop') => api.get(SECRETS, ns, name) as any;
const ready = (name: string, ns = 'shop') => rs(name, ns)?.status?.conditions?.find((c: any) => c.type === 'Ready');
const decoded = (s: any) => Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v as string, 'base64').toString()]));
const secretWrites = (since: number) => api.calls.slice(since).filter((c) => c.method !== 'GET' && c.path.includes('/secrets'));
const hourLater = () => (clock += 3600_000 + 1000);

/** Creates the resource and sends its ADDED event. */
async function create(name: string, spec: Record<string, unknown>, ns = 'shop') {
  api.put(remoteSecret(name, spec, ns));
  return app.request(event(rs(name, ns), 'dev.knative.apiserver.resource.add'));
}

before(async () => {
  kubeAuth = await startFakeKubeApi();
  kubeAuth.createServiceAccount('vault', 'vault-auth');
  kubeAuth.grantTokenReview('vault', 'vault-auth');
  kubeAuth.createServiceAccount('zenokube', OPERATOR);
  tdb = await createTestDatabase();
  vs = await startVaultServer(tdb.database);
  const init = await fetch(`${vs.endpoint}/v1/sys/init`, { method: 'PUT', body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) }).then((r) => r.json() as Promise<{ root_token: string; keys: string[] }>);
  rootToken = init.root_token;
  unsealKey = init.keys[0]!;
  assert.equal((await vault('PUT', 'sys/unseal', { key: unsealKey })).status, 200);
  assert.equal((await vault('POST', 'auth/kubernetes/config', { kubernetes_host: kubeAuth.url, token_reviewer_jwt: await kubeAuth.token('vault', 'vault-auth'), disable_local_ca_jwt: true })).status, 204);
  // The operator's policy, as docs/vault.md gives it: read the scopes' and apps' paths, nothing else.
  await vault('PUT', 'sys/policies/acl/zenokube-remote-secrets', { policy: 'path "secret/data/scopes/*" { capabilities = ["read"] }\npath "secret/data/apps/*" { capabilities = ["read"] }\n' });
  await vault('POST', 'auth/kubernetes/role/zenokube-remote-secrets', { bound_service_account_names: [OPERATOR], bound_service_account_namespaces: ['zenokube'], audience: 'vault', token_policies: ['zenokube-remote-secrets'], token_ttl: '10m' });
  dir = await mkdtemp(join(tmpdir(), 'remote-secret-'));
  await writeFile(join(dir, 'vault-token'), await kubeAuth.token('zenokube', OPERATOR, { audiences: ['vault'] }));
  api = await startFakeApiServer();
  deps = {
    kube: createKubeApi({ server: api.url, token: OPERATOR }),
    vault: createVaultReader({ address: vs.endpoint, jwtFile: join(dir, 'vault-token') }),
    log: silentLogger,
    now: () => new Date(clock),
  };
  app = createSyncApp(deps);
});
after(async () => {
  await api?.close();
  await vs?.close();
  await tdb?.drop();
  await kubeAuth?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vault-remote-secret-sync', () => {
  it('creates the Secret from the vault path on the RemoteSecret’s event, logged in as its own service account', async () => {
    await putSecret('apps/shop/cart/database', { username: 'cart', password: 'first', port: '5432' });
    const reviews = kubeAuth.reviews.length;
    const res = await create('cart-db', { path: 'apps/shop/cart/database', target: { name: 'cart-database' } });
    assert.equal(res.status, 200);
    assert.deepEqual(decoded(secret('cart-database')), { username: 'cart', password: 'first', port: '5432' });
    assert.deepEqual(secret('cart-database').metadata.ownerReferences, [{ apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret', name: 'cart-db', uid: rs('cart-db').metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(secret('cart-database').metadata.labels[MANAGED_LABEL], 'cart-db');
    assert.deepEqual(ready('cart-db'), { type: 'Ready', status: 'True', reason: 'SecretSynced', message: 'Secret cart-database holds version 1 of secret/apps/shop/cart/database', observedGeneration: 1, lastTransitionTime: '2026-12-07T12:00:00Z' });
    assert.equal(rs('cart-db').status.observedGeneration, 1);
    assert.equal(rs('cart-db').status.syncedVersion, 1);
    assert.equal(rs('cart-db').status.refreshTime, '2026-12-07T12:00:00Z');
    const review = kubeAuth.reviews.slice(reviews).find((r) => r.authenticated);
    assert.equal((review?.spec as { token: string }).token.split('.').length, 3, 'the vault reviewed the operator’s token');
  });

  it('does nothing more on the events of its own writes, until the refresh interval has passed', async () => {
    const since = api.calls.length;
    assert.equal((await app.request(event(rs('cart-db')))).status, 200);
    assert.equal((await app.request(event(secret('cart-database')))).status, 200);
    await syncAll(deps);
    assert.deepEqual(api.calls.slice(since).filter((c) => c.method !== 'GET'), [], 'the Secret event reads the vault again, and finds it in step');
  });

  it('updates the Secret when the vault path changes, at the next refresh', async () => {
    await putSecret('apps/shop/cart/database', { username: 'cart', password: 'second', port: '5432' });
    await syncAll(deps);
    assert.equal(decoded(secret('cart-database')).password, 'first', 'not due yet');
    hourLater();
    await syncAll(deps);
    assert.equal(decoded(secret('cart-database')).password, 'second');
    assert.equal(rs('cart-db').status.syncedVersion, 2);
    assert.equal(rs('cart-db').status.refreshTime, new Date(clock).toISOString().replace(/\.\d+Z$/, 'Z'));
  });

  it('syncs a spec change at once, and reports the new generation', async () => {
    api.put({ ...rs('cart-db'), spec: { ...rs('cart-db').spec, data: [{ secretKey: 'PGPASSWORD', remoteKey: 'password' }] } });
    assert.equal(rs('cart-db').metadata.generation, 2);
    await app.request(event(rs('cart-db')));
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'second' });
    assert.equal(rs('cart-db').status.observedGeneration, 2);
    assert.equal(ready('cart-db').observedGeneration, 2);
  });

  it('writes back a Secret someone edited or deleted, on that Secret’s event', async () => {
    const s = secret('cart-database');
    api.put({ ...s, data: { PGPASSWORD: Buffer.from('tampered').toString('base64') } });
    await app.request(event(secret('cart-database')));
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'second' });
    const before = secret('cart-database');
    api.remove(SECRETS, 'shop', 'cart-database');
    assert.equal(secret('cart-database'), undefined);
    await app.request(event(before, 'dev.knative.apiserver.resource.delete'));
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'second' });
  });

  it('reads again and recomputes when the Secret changes between its read and the write (409)', async () => {
    await putSecret('apps/shop/cart/database', { username: 'cart', password: 'third', port: '5432' });
    hourLater();
    // Someone relabels the Secret just before the operator's update: the update carries a stale resourceVersion.
    api.beforeRequest((m, p) => m === 'PUT' && p === '/api/v1/namespaces/shop/secrets/cart-database', () => {
      const s = secret('cart-database');
      api.put({ ...s, metadata: { ...s.metadata, labels: { ...s.metadata.labels, team: 'shop' } } });
    });
    const since = api.calls.length;
    await syncAll(deps);
    assert.ok(api.calls.slice(since).some((c) => c.method === 'PUT' && c.status === 409), 'a 409 was answered');
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'third' });
    assert.equal(secret('cart-database').metadata.labels.team, 'shop', 'their write kept');
    assert.equal(ready('cart-db').reason, 'SecretSynced');
  });

  it('reports a sealed vault in status, keeps the Secret and its last sync, and recovers once unsealed', async () => {
    const last = rs('cart-db').status;
    assert.equal((await vault('PUT', 'sys/seal')).status, 204);
    hourLater();
    await syncAll(deps);
    assert.equal(ready('cart-db').status, 'False');
    assert.equal(ready('cart-db').reason, 'SecretSyncedError');
    assert.match(ready('cart-db').message, /the vault answered 503.*the Secret keeps its last values/);
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'third' }, 'no Secret lost');
    assert.equal(rs('cart-db').status.refreshTime, last.refreshTime);
    assert.equal(rs('cart-db').status.syncedVersion, last.syncedVersion);
    const res = await app.request(event(rs('cart-db')));
    assert.equal(res.status, 503, 'the event is delivered again later');
    assert.equal(((await res.json()) as { code: string }).code, 'sync_failed');
    assert.equal((await vault('PUT', 'sys/unseal', { key: unsealKey })).status, 200);
    await syncAll(deps);
    assert.equal(ready('cart-db').reason, 'SecretSynced', 'a failed resource is retried at the next tick, due or not');
  });

  it('reports a vault that cannot be reached at all, and keeps the Secret', async () => {
    const closed = await startFakeApiServer();
    const address = closed.url;
    await closed.close();
    const down: SyncDeps = { ...deps, vault: createVaultReader({ address: `${address}/vault`, jwtFile: join(dir, 'vault-token') }) };
    hourLater();
    await syncAll(down);
    assert.equal(ready('cart-db').reason, 'SecretSyncedError');
    assert.match(ready('cart-db').message, /reading secret\/apps\/shop\/cart\/database failed/);
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'third' });
    await syncAll(deps);
    assert.equal(ready('cart-db').reason, 'SecretSynced');
  });

  it('keeps the Secret when the vault path is deleted and deletionPolicy is Retain', async () => {
    assert.equal((await vault('DELETE', 'secret/metadata/apps/shop/cart/database')).status, 204);
    hourLater();
    await syncAll(deps);
    assert.equal(ready('cart-db').reason, 'SecretRetained');
    assert.deepEqual(decoded(secret('cart-database')), { PGPASSWORD: 'third' });
  });

  it('deletes the Secret when the vault path is deleted and deletionPolicy is Delete', async () => {
    await putSecret('apps/shop/orders/database', { password: 'orders' });
    await create('orders-db', { path: 'apps/shop/orders/database', target: { deletionPolicy: 'Delete' } });
    assert.deepEqual(decoded(secret('orders-db')), { password: 'orders' });
    // A soft delete of the latest version is gone too, as a KV v2 client reads it.
    assert.equal((await vault('DELETE', 'secret/data/apps/shop/orders/database')).status, 204);
    hourLater();
    await syncAll(deps);
    assert.equal(secret('orders-db'), undefined);
    assert.equal(ready('orders-db').reason, 'SecretDeleted');
  });

  it('merges its keys into an existing Secret, and takes back only those when the path is deleted (Merge, Delete)', async () => {
    api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-tls', namespace: 'shop' }, type: 'Opaque', data: { 'tls.crt': Buffer.from('cert').toString('base64') } });
    await putSecret('apps/shop/web/session', { 'session-key': 'k1' });
    await create('web-session', { path: 'apps/shop/web/session', target: { name: 'web-tls', creationPolicy: 'Merge', deletionPolicy: 'Delete' } });
    assert.deepEqual(decoded(secret('web-tls')), { 'tls.crt': 'cert', 'session-key': 'k1' });
    assert.equal(secret('web-tls').metadata.ownerReferences, undefined, 'a merged Secret stays its owner’s');
    assert.equal((await vault('DELETE', 'secret/metadata/apps/shop/web/session')).status, 204);
    hourLater();
    await syncAll(deps);
    assert.deepEqual(decoded(secret('web-tls')), { 'tls.crt': 'cert' });
    assert.equal(secret('web-tls').metadata.labels?.[MANAGED_LABEL], undefined);
  });

  it('leaves the Secret to the garbage collector (Owner) or to the namespace (Orphan) when the RemoteSecret is deleted', async () => {
    await putSecret('apps/shop/cart/database', { password: 'back' });
    await putSecret('apps/shop/cart/api-key', { key: 'a1' });
    await create('cart-key', { path: 'apps/shop/cart/api-key', target: { creationPolicy: 'Orphan' } });
    assert.equal(secret('cart-key').metadata.ownerReferences, undefined);
    const since = api.calls.length;
    for (const name of ['cart-db', 'cart-key']) {
      const gone = rs(name);
      api.remove(RS, 'shop', name);
      assert.equal((await app.request(event(gone, 'dev.knative.apiserver.resource.delete'))).status, 200);
    }
    assert.deepEqual(secretWrites(since), [], 'the operator deletes nothing itself');
    assert.equal(secret('cart-database').metadata.ownerReferences[0].kind, 'RemoteSecret', 'the garbage collector follows this');
    assert.deepEqual(decoded(secret('cart-key')), { key: 'a1' });
  });

  it('refuses a path outside the namespace, even one its own vault role could read', async () => {
    await putSecret('apps/other/billing/database', { password: 'not-yours' });
    const res = await create('steal', { path: 'apps/other/billing/database' });
    assert.equal(res.status, 503);
    assert.equal(secret('steal'), undefined);
    assert.equal(ready('steal').reason, 'SecretSyncedError');
    assert.match(ready('steal').message, /outside this namespace/);
  });

  it('reports a path its vault role may not read, and a role that does not exist, and writes nothing', async () => {
    await vault('PUT', 'sys/policies/acl/scopes-only', { policy: 'path "secret/data/scopes/*" { capabilities = ["read"] }\n' });
    await vault('POST', 'auth/kubernetes/role/scopes-only', { bound_service_account_names: [OPERATOR], bound_service_account_namespaces: ['zenokube'], audience: 'vault', token_policies: ['scopes-only'], token_ttl: '10m' });
    await putSecret('apps/shop/cart/database', { password: 'back' });
    let res = await create('narrow', { path: 'apps/shop/cart/database', vault: { role: 'scopes-only' } });
    assert.equal(res.status, 503);
    assert.equal(secret('narrow'), undefined);
    assert.match(ready('narrow').message, /the vault answered 403: permission denied/);
    res = await create('wrong-role', { path: 'apps/shop/cart/database', vault: { role: 'no-such-role' } });
    assert.equal(res.status, 503);
    assert.equal(secret('wrong-role'), undefined);
    assert.match(ready('wrong-role').message, /login to role no-such-role answered 400: invalid role name/);
  });

  it('answers 400 to an event naming no object, 202 to objects it does not watch', async () => {
    assert.equal((await app.request(event({ nothing: true }))).status, 400);
    assert.equal((await app.request(event({ kind: 'RemoteSecret', metadata: { name: 'x' } }))).status, 400, 'no namespace');
    assert.equal((await app.request(event({ kind: 'RemoteSecret', metadata: { name: '../x', namespace: 'shop' } }))).status, 400);
    const bad = new Request('http://sync/', { method: 'POST', headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't' }, body: '{' });
    assert.equal((await app.request(bad)).status, 400);
    assert.equal((await app.request(event({ kind: 'Secret', metadata: { name: 'plain', namespace: 'shop', labels: {} } }))).status, 202);
    assert.equal((await app.request(event({ kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop' } }))).status, 202);
    assert.equal((await app.request(event({ kind: 'RemoteSecret', metadata: { name: 'absent', namespace: 'shop' } }))).status, 200);
  });
});
