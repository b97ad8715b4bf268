// The RemoteSecret sync rule on fixtures: no API server, no vault.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS_ANNOTATION, MANAGED_LABEL, OWNER_UID_ANNOTATION, type RemoteSecret, type Secret } from './resource.js';
import { needsSync, pathAllowed, syncRule, type Observed, type SyncAction } from './sync-rule.js';

const NOW = '2026-12-07T12:00:00Z';
const b64 = (s: string) => Buffer.from(s).toString('base64');

const resource = (spec: Partial<RemoteSecret['spec']> = {}, extra: Partial<RemoteSecret> = {}): RemoteSecret => ({
  apiVersion: 'vault.zenokube.io/v1alpha1',
  kind: 'RemoteSecret',
  metadata: { name: 'db', namespace: 'shop', uid: 'rs-uid', generation: 1, resourceVersion: '10' },
  spec: { path: 'apps/shop/cart/database', ...spec },
  ...extra,
});
const ourSecret = (data: Record<string, string>, extra: Partial<Secret['metadata']> = {}): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'Opaque',
  metadata: {
    name: 'db', namespace: 'shop', resourceVersion: '20',
    labels: { [MANAGED_LABEL]: 'db' },
    annotations: { [OWNER_UID_ANNOTATION]: 'rs-uid' },
    ownerReferences: [{ apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret', name: 'db', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
    ...extra,
  },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
const found = (data: Record<string, unknown>, version = 3): Observed['remote'] => ({ state: 'found', version, data });
const run = (o: Partial<Observed>) => syncRule({ resource: resource(), secret: undefined, remote: found({ password: 'p1' }), now: NOW, ...o });
const types = (a: SyncAction[]) => a.map((x) => x.type);
const statusOf = (a: SyncAction[]) => (a.at(-1) as Extract<SyncAction, { type: 'writeStatus' }>).status;
const ready = (a: SyncAction[]) => statusOf(a).conditions!.find((c) => c.type === 'Ready')!;

describe('syncRule', () => {
  it('creates an owned Secret with every key of the path, then reports SecretSynced with the version and time', () => {
    const a = run({ remote: found({ username: 'app', password: 'p1', port: 5432 }, 3) });
    assert.deepEqual(types(a), ['createSecret', 'writeStatus']);
    const s = (a[0] as Extract<SyncAction, { type: 'createSecret' }>).secret;
    assert.equal(s.metadata.namespace, 'shop');
    assert.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret', name: 'db', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }]);
    assert.equal(s.metadata.labels![MANAGED_LABEL], 'db');
    assert.deepEqual(s.data, { username: b64('app'), password: b64('p1'), port: b64('5432') });
    assert.equal(s.type, 'Opaque');
    const st = statusOf(a);
    assert.equal(st.observedGeneration, 1);
    assert.equal(st.syncedVersion, 3);
    assert.equal(st.refreshTime, NOW);
    assert.deepEqual({ ...ready(a), message: '' }, { type: 'Ready', status: 'True', reason: 'SecretSynced', message: '', observedGeneration: 1, lastTransitionTime: NOW });
  });

  it('maps keys (secretKey ← remoteKey) and names the target as asked', () => {
    const r = resource({ target: { name: 'creds', type: 'kubernetes.io/basic-auth' }, data: [{ secretKey: 'password', remoteKey: 'pw' }] });
    const a = run({ resource: r, remote: found({ pw: 's3', other: 'x' }) });
    const s = (a[0] as Extract<SyncAction, { type: 'createSecret' }>).secret;
    assert.equal(s.metadata.name, 'creds');
    assert.equal(s.type, 'kubernetes.io/basic-auth');
    assert.deepEqual(s.data, { password: b64('s3') });
  });

  it('writes nothing but the status when the Secret already holds the path', () => {
    assert.deepEqual(types(run({ secret: ourSecret({ password: 'p1' }) })), ['writeStatus']);
  });

  it('replaces a drifted Secret carrying the resourceVersion it was read at, keeping others’ metadata', () => {
    const drifted = ourSecret({ password: 'old', extra: 'x' }, { labels: { [MANAGED_LABEL]: 'db', team: 'shop' } });
    const a = run({ secret: drifted });
    assert.deepEqual(types(a), ['replaceSecret', 'writeStatus']);
    const s = (a[0] as Extract<SyncAction, { type: 'replaceSecret' }>).secret;
    assert.equal(s.metadata.resourceVersion, '20');
    assert.equal(s.metadata.labels!.team, 'shop');
    assert.deepEqual(s.data, { password: b64('p1') });
  });

  it('refuses to take over a Secret another owner wrote, with Owner or Orphan', () => {
    const foreign: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop', resourceVersion: '5' }, data: { password: b64('theirs') } };
    for (const creationPolicy of ['Owner', 'Orphan'] as const) {
      const a = run({ resource: resource({ target: { creationPolicy } }), secret: foreign });
      assert.deepEqual(types(a), ['writeStatus']);
      assert.equal(ready(a).reason, 'SecretSyncedError');
      assert.match(ready(a).message, /not managed by this RemoteSecret/);
    }
    // A namesake RemoteSecret re-created with another uid does not adopt the old one's Secret either.
    const a = run({ resource: { ...resource(), metadata: { ...resource().metadata, uid: 'new-uid' } }, secret: ourSecret({ password: 'p1' }) });
    assert.equal(ready(a).reason, 'SecretSyncedError');
  });

  it('writes no owner reference with Orphan', () => {
    const a = run({ resource: resource({ target: { creationPolicy: 'Orphan' } }) });
    assert.equal((a[0] as Extract<SyncAction, { type: 'createSecret' }>).secret.metadata.ownerReferences, undefined);
  });

  it('merges only its keys into an existing Secret, and removes only the keys it wrote before', () => {
    const r = resource({ target: { creationPolicy: 'Merge' } });
    const theirs: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop', resourceVersion: '7' }, data: { tls: b64('cert') } };
    let a = run({ resource: r, secret: theirs, remote: found({ password: 'p1', user: 'u' }) });
    assert.deepEqual(types(a), ['patchSecret', 'writeStatus']);
    const patch = (a[0] as Extract<SyncAction, { type: 'patchSecret' }>).patch;
    assert.deepEqual(patch.data, { password: b64('p1'), user: b64('u') });
    assert.equal(patch.metadata.resourceVersion, '7');
    assert.deepEqual(patch.metadata.annotations, { [OWNER_UID_ANNOTATION]: 'rs-uid', [KEYS_ANNOTATION]: 'password,user' });
    const merged: Secret = { ...theirs, metadata: { ...theirs.metadata, labels: { [MANAGED_LABEL]: 'db' }, annotations: patch.metadata.annotations as Record<string, string> }, data: { ...theirs.data, ...(patch.data as Record<string, string>) } };
    assert.deepEqual(types(run({ resource: r, secret: merged, remote: found({ password: 'p1', user: 'u' }) })), ['writeStatus']);
    a = run({ resource: r, secret: merged, remote: found({ password: 'p2' }) });
    assert.deepEqual((a[0] as Extract<SyncAction, { type: 'patchSecret' }>).patch.data, { password: b64('p2'), user: null });
  });

  it('waits for the Secret to exist with Merge, and writes no Secret with None', () => {
    const merge = run({ resource: resource({ target: { creationPolicy: 'Merge' } }) });
    assert.deepEqual(types(merge), ['writeStatus']);
    assert.match(ready(merge).message, /does not exist/);
    const none = run({ resource: resource({ target: { creationPolicy: 'None' } }) });
    assert.deepEqual(types(none), ['writeStatus']);
    assert.equal(ready(none).reason, 'SecretSynced');
  });

  it('keeps the Secret when the path is gone and deletionPolicy is Retain', () => {
    const a = run({ secret: ourSecret({ password: 'p1' }), remote: { state: 'gone' } });
    assert.deepEqual(types(a), ['writeStatus']);
    assert.equal(ready(a).reason, 'SecretRetained');
    assert.equal(ready(a).status, 'False');
  });

  it('deletes its Secret when the path is gone and deletionPolicy is Delete, at the version it read', () => {
    const a = run({ resource: resource({ target: { deletionPolicy: 'Delete' } }), secret: ourSecret({ password: 'p1' }), remote: { state: 'gone' } });
    assert.deepEqual(a[0], { type: 'deleteSecret', name: 'db', resourceVersion: '20' });
    assert.equal(ready(a).reason, 'SecretDeleted');
    // Someone else's Secret of that name is never deleted.
    const foreign: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop', resourceVersion: '5' } };
    assert.deepEqual(types(run({ resource: resource({ target: { deletionPolicy: 'Delete' } }), secret: foreign, remote: { state: 'gone' } })), ['writeStatus']);
  });

  it('takes back only its keys from a merged Secret when the path is gone with Delete', () => {
    const merged: Secret = {
      apiVersion: 'v1', kind: 'Secret',
      metadata: { name: 'db', namespace: 'shop', resourceVersion: '9', labels: { [MANAGED_LABEL]: 'db' }, annotations: { [OWNER_UID_ANNOTATION]: 'rs-uid', [KEYS_ANNOTATION]: 'password' } },
      data: { password: b64('p1'), tls: b64('cert') },
    };
    const a = run({ resource: resource({ target: { creationPolicy: 'Merge', deletionPolicy: 'Delete' } }), secret: merged, remote: { state: 'gone' } });
    const patch = (a[0] as Extract<SyncAction, { type: 'patchSecret' }>).patch;
    assert.deepEqual(patch.data, { password: null });
    assert.deepEqual(patch.metadata.annotations, { [OWNER_UID_ANNOTATION]: null, [KEYS_ANNOTATION]: null });
  });

  it('loses nothing when the vault cannot be read: status error, the last sync time and version kept', () => {
    const r = resource({}, { status: { observedGeneration: 1, refreshTime: '2026-12-07T11:00:00Z', syncedVersion: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced', message: 'ok', lastTransitionTime: '2026-12-07T11:00:00Z' }] } });
    const a = run({ resource: r, secret: ourSecret({ password: 'p1' }), remote: { state: 'failed', message: 'the vault answered 503: Vault is sealed' } });
    assert.deepEqual(types(a), ['writeStatus']);
    assert.equal(ready(a).reason, 'SecretSyncedError');
    assert.match(ready(a).message, /503: Vault is sealed; the Secret keeps its last values/);
    assert.equal(ready(a).lastTransitionTime, NOW, 'Ready turned False now');
    assert.equal(statusOf(a).refreshTime, '2026-12-07T11:00:00Z');
    assert.equal(statusOf(a).syncedVersion, 2);
  });

  it('keeps lastTransitionTime while Ready keeps its status', () => {
    const r = resource({}, { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z' }] } });
    assert.equal(ready(run({ resource: r, secret: ourSecret({ password: 'p1' }) })).lastTransitionTime, '2026-01-01T00:00:00Z');
  });

  it('reports a mapped key missing from the path, a key that cannot name a Secret key, and a duplicate secretKey', () => {
    assert.match(ready(run({ resource: resource({ data: [{ secretKey: 'pw', remoteKey: 'nope' }] }) })).message, /no key "nope"/);
    assert.match(ready(run({ remote: found({ 'a b': 'x' }) })).message, /not a valid Secret key/);
    assert.match(ready(run({ resource: resource({ data: [{ secretKey: 'k', remoteKey: 'a' }, { secretKey: 'k', remoteKey: 'b' }] }), remote: found({ a: '1', b: '2' }) })).message, /twice/);
  });

  it('refuses a path outside the namespace’s own vault paths', () => {
    for (const path of ['apps/other/cart/database', 'scopes/payment-team/database', 'apps/shop/../other/x', 'apps/shopping/x']) {
      const a = run({ resource: resource({ path }) });
      assert.deepEqual(types(a), ['writeStatus'], path);
      assert.match(ready(a).message, /outside this namespace/, path);
    }
    assert.ok(pathAllowed('payment-team', 'scopes/payment-team/database'));
    assert.ok(pathAllowed('shop', 'apps/shop/cart/database'));
  });

  it('does nothing for a resource being deleted (the garbage collector follows the owner reference)', () => {
    assert.deepEqual(run({ resource: resource({}, { metadata: { ...resource().metadata, deletionTimestamp: NOW } }) }), []);
  });
});

describe('needsSync', () => {
  const synced = (refreshTime: string, refreshInterval = '1h') =>
    resource({ refreshInterval }, { status: { observedGeneration: 1, refreshTime, conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced', message: '' }] } });
  const at = (iso: string) => new Date(iso);

  it('syncs a new generation, a failed resource and a changed Secret at once', () => {
    assert.ok(needsSync(resource(), 'resource', at(NOW)));
    assert.ok(needsSync({ ...synced(NOW), metadata: { ...resource().metadata, generation: 2 } }, 'resource', at(NOW)));
    assert.ok(needsSync(synced(NOW), 'secret', at(NOW)));
    const failing = synced(NOW);
    failing.status!.conditions![0] = { type: 'Ready', status: 'False', reason: 'SecretSyncedError', message: '' };
    assert.ok(needsSync(failing, 'resync', at(NOW)));
  });

  it('reads the vault again only once the refresh interval has passed, never with 0', () => {
    assert.equal(needsSync(synced('2026-12-07T11:30:00Z'), 'resync', at(NOW)), false);
    assert.equal(needsSync(synced('2026-12-07T11:30:00Z'), 'resource', at(NOW)), false, 'its own status write is no reason');
    assert.ok(needsSync(synced('2026-12-07T11:00:00Z'), 'resync', at(NOW)));
    assert.ok(needsSync(synced('2026-12-07T11:59:00Z', '30s'), 'resync', at(NOW)));
    assert.equal(needsSync(synced('2020-01-01T00:00:00Z', '0'), 'resync', at(NOW)), false);
  });
});
