// The pure reconcile on fixtures: fresh, partially provisioned, drifted, deleting, shared database.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { loadCrdValidators } from '#tests/manifests/crd-schema';
import { STEPS, type Action } from './actions.js';
import { RENEW_BEFORE_SECONDS } from './kubeconfig.js';
import { FINALIZER, SHARER_PREFIX } from './names.js';
import { reconcile } from './reconcile.js';
import { SimWorld } from './simulate.test-support.js';
import type { ScopeResource } from './spec.js';

const example = (): ScopeResource => ({
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

const app = (name: string, database: string): ScopeResource => ({
  apiVersion: 'scope.zenokube.io/v1alpha1',
  kind: 'ZenoApp',
  metadata: { name, namespace: 'shop' },
  spec: { database: { enabled: true, clusterRef: { name: 'shared-db-prod' }, name: database } },
});

const stepOf = (a: Action) => ('step' in a ? a.step : undefined);
/** The steps in the order their first action was executed. */
const firstSeen = (log: Action[]) => [...new Set(log.map(stepOf).filter(Boolean))];
const condition = (r: { status: { conditions: { type: string }[] } }, type: string) => r.status.conditions.find((c) => c.type === type) as any;

const NOW = '2026-06-01T12:00:00Z';
const KUBECONFIG = 'scopes/payment-team/kubeconfig';
const at = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

describe('reconcile (pure)', () => {
  it('starts a fresh resource with its finalizer and the namespace only, every later step waiting', () => {
    const world = new SimWorld();
    const r = reconcile(world.observe(world.add(example()).metadata.name));
    assert.deepEqual(r.actions[0], { type: 'addFinalizer' });
    assert.deepEqual(new Set(r.actions.slice(1).map(stepOf)), new Set(['Namespace']));
    assert.deepEqual(r.actions.slice(1).map((a) => (a as any).object.kind), ['Namespace', 'ServiceAccount', 'RoleBinding']);
    assert.equal(condition(r, 'NamespaceReady').reason, 'Applying');
    for (const type of ['DatabaseReady', 'VaultReady', 'KubeconfigReady', 'SecretsReady', 'RouteReady', 'OAuthClientReady', 'MonitoringReady']) assert.equal(condition(r, type).reason, 'Waiting');
    assert.equal(condition(r, 'Ready').status, 'False');
    assert.equal(r.status.observedGeneration, 1);
  });

  it('provisions the documented example in dependency order, then has nothing left to do', () => {
    const world = new SimWorld();
    world.cluster = { server: 'https://kubernetes.default.svc', now: NOW };
    world.add(example());
    const passes = world.settle('payment-team');
    assert.deepEqual(firstSeen(world.log), [...STEPS]);
    const last = passes.at(-1)!;
    assert.deepEqual(last.actions, []);
    assert.equal(last.done, true);
    assert.equal(condition(last, 'Ready').status, 'True');
    assert.equal(last.status.phase, 'Ready');
    assert.deepEqual(world.resources.get('payment-team')!.metadata.finalizers, [FINALIZER]);
    // Idempotent: the same observation again yields the same answer and no action.
    assert.deepEqual(reconcile(world.observe('payment-team')), last);
    assert.match(world.vault.policies['scope-payment-team']!, /path "secret\/data\/scopes\/payment-team\/\*"/);
    assert.deepEqual(world.vault.roles['scope-payment-team']!.bound_service_account_namespaces, ['payment-team']);
    assert.equal(world.vault.secrets['scopes/payment-team/database']!.dbname, 'payment_team');
    assert.equal(world.vault.secrets['scopes/payment-team/oauth']!.client_id, 'scope-payment-team');
  });

  it('creates the database only once CloudNativePG has applied both roles', () => {
    const world = new SimWorld();
    world.add(example());
    world.settle('payment-team', 2); // finalizer + namespace, then the roles
    const r = reconcile(world.observe('payment-team'));
    assert.equal(condition(r, 'DatabaseReady').reason, 'RoleNotApplied');
    assert.ok(!world.log.some((a) => a.type === 'apply' && a.object.kind === 'Database'));
    world.controllers();
    const next = reconcile(world.observe('payment-team'));
    assert.deepEqual(next.actions.map((a) => (a as any).object?.kind), ['Database']);
  });

  it('reports CloudNativePG’s refusal on the step and goes no further', () => {
    const world = new SimWorld();
    world.add(example());
    world.settle('payment-team', 2);
    for (const o of world.objects.values()) if (o.kind === 'DatabaseRole') o.status = { applied: false, message: 'role "x" already exists' };
    const r = reconcile(world.observe('payment-team'));
    assert.equal(condition(r, 'DatabaseReady').message, 'CloudNativePG: role "x" already exists');
    assert.equal(condition(r, 'Ready').reason, 'Provisioning');
    assert.ok(r.actions.every((a) => stepOf(a) !== 'Vault'));
  });

  it('puts back what drifted and removes the route of a host no longer asked for', () => {
    const world = new SimWorld();
    world.add(example());
    world.settle('payment-team');
    const route = [...world.objects.values()].find((o) => o.kind === 'HTTPRoute')!;
    (route.spec as any).hostnames = ['evil.example'];
    delete world.vault.policies['scope-payment-team'];
    const r = reconcile(world.observe('payment-team'));
    assert.deepEqual(r.actions.map((a) => a.type), ['vaultPutPolicy']); // the earlier step first
    world.settle('payment-team');
    assert.deepEqual((world.objects.get([...world.objects.keys()].find((k) => k.includes('HTTPRoute'))!)!.spec as any).hostnames, ['api.payments.zenokube.local']);
    const res = world.resources.get('payment-team')!;
    (res.spec as any).ingress.enabled = false;
    res.metadata.generation = 2;
    world.settle('payment-team');
    assert.ok(![...world.objects.values()].some((o) => o.kind === 'HTTPRoute'));
    assert.equal(condition(reconcile(world.observe('payment-team')), 'RouteReady').reason, 'Disabled');
    assert.equal(reconcile(world.observe('payment-team')).status.observedGeneration, 2);
  });

  it('tears down in reverse dependency order and removes the finalizer last', () => {
    const world = new SimWorld();
    world.cluster = { server: 'https://kubernetes.default.svc', now: NOW };
    world.add(example());
    world.settle('payment-team');
    world.log = [];
    world.markDeleted('payment-team');
    world.settle('payment-team');
    assert.deepEqual(firstSeen(world.log), [...STEPS].reverse());
    assert.deepEqual(world.log.at(-1), { type: 'removeFinalizer' });
    assert.equal(world.objects.size, 0);
    assert.deepEqual([world.vault.policies, world.vault.roles, world.vault.secrets, world.clients], [{}, {}, {}, {}]);
    assert.ok(!world.resources.has('payment-team'));
    // The database goes before its roles, the login role before the owner role.
    const dbDeletes = world.log.filter((a) => a.type === 'delete' && a.step === 'Database').map((a) => (a as any).ref.name);
    assert.equal(dbDeletes[0], 'zs-db-payment-team');
    assert.equal(dbDeletes.at(-1), 'zs-db-payment-team-owner');
  });

  it('keeps a failing step’s finalizer: nothing after it is removed while the vault is unreachable', () => {
    const world = new SimWorld();
    world.add(example());
    world.settle('payment-team');
    world.markDeleted('payment-team');
    world.vaultUp = false;
    world.log = [];
    const passes = world.settle('payment-team');
    const last = passes.at(-1)!;
    assert.equal(condition(last, 'VaultReady').reason, 'TearingDown');
    assert.match(condition(last, 'Ready').message, /ZenoVault, which is not configured/);
    assert.ok(world.log.every((a) => a.type !== 'removeFinalizer' && stepOf(a) !== 'Database'));
    assert.ok(world.resources.has('payment-team'));
  });

  it('shares a database between apps naming it and drops it with the last one', () => {
    const world = new SimWorld();
    world.add(app('cart', 'shop'));
    world.add(app('orders', 'shop'));
    world.settle('cart');
    world.settle('orders');
    const db = () => [...world.objects.values()].find((o) => o.kind === 'Database');
    assert.deepEqual(Object.keys(db()!.metadata.labels!).filter((k) => k.startsWith(SHARER_PREFIX)).sort(), [`${SHARER_PREFIX}uid-cart`, `${SHARER_PREFIX}uid-orders`]);
    world.markDeleted('cart');
    world.log = [];
    world.settle('cart');
    assert.ok(db(), 'the database stays while orders uses it');
    assert.ok(world.log.some((a) => a.type === 'unshare' && a.ref.kind === 'Database'));
    assert.ok(!world.log.some((a) => a.type === 'delete' && (a.ref.kind === 'Database' || a.ref.name === 'zs-db-shop-owner')));
    assert.ok(![...world.objects.values()].some((o) => o.metadata.name === 'zs-role-shop-cart'), 'the login role of cart is gone');
    world.markDeleted('orders');
    world.settle('orders');
    assert.equal(db(), undefined);
    assert.equal(world.objects.size, 0);
  });

  it('refuses a shared-database delete made on a stale version (someone joined meanwhile)', () => {
    const world = new SimWorld();
    world.add(app('cart', 'shop'));
    world.settle('cart');
    world.markDeleted('cart');
    world.settle('cart', 1); // the services, routes... nothing; the Database delete is next
    const r = reconcile(world.observe('cart'));
    const del = r.actions.find((a) => a.type === 'delete' && a.ref.kind === 'Database') as Extract<Action, { type: 'delete' }>;
    assert.ok(del?.resourceVersion);
    world.add(app('orders', 'shop'));
    world.settle('orders');
    assert.throws(() => world.execute('cart', del), /conflict/);
    world.settle('cart');
    assert.ok([...world.objects.values()].some((o) => o.kind === 'Database'));
  });

  it('reports an invalid spec and provisions nothing', () => {
    const world = new SimWorld();
    const bad = example();
    (bad.spec as any).ingress.hosts = [];
    (bad.spec as any).database.clusterRef = undefined;
    world.add(bad);
    const r = reconcile(world.observe('payment-team'));
    assert.deepEqual(r.actions, []);
    assert.equal(condition(r, 'Ready').reason, 'InvalidSpec');
    assert.match(condition(r, 'Ready').message, /clusterRef.*host/);
  });

  it('writes objects that validate against the upstream CRDs (CloudNativePG, Gateway API, Prometheus Operator) and ours', () => {
    const schemas = ['cloudnative-pg', 'gateway-api', 'prometheus-operator', '../../crds'].map((d) => loadCrdValidators(join(projectRoot(), 'tests', 'schemas', d)));
    const world = new SimWorld();
    world.add(example());
    world.settle('payment-team');
    const applied = world.log.flatMap((a) => (a.type === 'apply' ? [a.object] : []));
    const kinds = new Set<string>();
    for (const o of applied) {
      const problems = schemas.map((v) => v.validate(o)).find((p) => p !== undefined);
      if (problems === undefined) continue;
      kinds.add(o.kind);
      assert.deepEqual(problems, [], `${o.kind} ${o.metadata.name}`);
    }
    assert.deepEqual([...kinds].sort(), ['Database', 'DatabaseRole', 'HTTPRoute', 'RemoteSecret', 'ServiceMonitor']);
  });

  describe('scoped kubeconfig', () => {
    const provisioned = () => {
      const world = new SimWorld();
      world.cluster = { server: 'https://kubernetes.default.svc', now: NOW };
      world.add(example());
      world.settle('payment-team');
      return world;
    };

    it('fresh: after the vault step, a ServiceAccount, Role and RoleBinding of the namespace, then a bounded token and the kubeconfig in the vault', () => {
      const world = provisioned();
      const steps = world.log.map(stepOf);
      assert.ok(steps.lastIndexOf('Vault') < steps.indexOf('Kubeconfig') && steps.lastIndexOf('Kubeconfig') < steps.indexOf('Secrets'));
      const mine = world.log.filter((a) => stepOf(a) === 'Kubeconfig');
      assert.deepEqual(mine.map((a) => (a.type === 'apply' ? a.object.kind : a.type)), ['ServiceAccount', 'Role', 'RoleBinding', 'kubeconfigIssue']);
      const [sa, role, binding] = mine.slice(0, 3).map((a) => (a as Extract<Action, { type: 'apply' }>).object);
      for (const o of [sa!, role!, binding!]) assert.deepEqual([o.metadata.namespace, o.metadata.name], ['payment-team', 'payment-team-kubeconfig']);
      assert.equal(role!.kind, 'Role', 'a namespaced Role, not a ClusterRole');
      assert.ok(!JSON.stringify(role!.rules).includes('"*"'), 'no wildcard in the rules');
      assert.deepEqual(binding!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'payment-team-kubeconfig' });
      assert.deepEqual(binding!.subjects, [{ kind: 'ServiceAccount', name: 'payment-team-kubeconfig', namespace: 'payment-team' }]);
      const issue = mine[3] as Extract<Action, { type: 'kubeconfigIssue' }>;
      assert.equal(issue.path, KUBECONFIG);
      assert.ok(issue.expirationSeconds >= 600 && issue.expirationSeconds <= 86_400, 'bounded');
      const entry = world.vault.secrets[KUBECONFIG]!;
      assert.equal(entry.namespace, 'payment-team');
      assert.match(entry.kubeconfig!, /sim-token-1/);
      const last = reconcile(world.observe('payment-team'));
      assert.deepEqual(last.actions, []);
      assert.equal(condition(last, 'KubeconfigReady').status, 'True');
      assert.match(condition(last, 'KubeconfigReady').message, new RegExp(`valid until ${at(NOW, issue.expirationSeconds)}`));
    });

    it('token near expiry: issued again by the next resync while the step stays ready; an expired one blocks the later steps until reissued', () => {
      const world = provisioned();
      const expiry = world.vault.secrets[KUBECONFIG]!.expirationTimestamp!;
      world.cluster = { server: 'https://kubernetes.default.svc', now: at(expiry, -RENEW_BEFORE_SECONDS - 60) };
      assert.deepEqual(reconcile(world.observe('payment-team')).actions, [], 'not yet');
      world.cluster.now = at(expiry, -RENEW_BEFORE_SECONDS + 60);
      const renew = reconcile(world.observe('payment-team'));
      assert.deepEqual(renew.actions.map((a) => a.type), ['kubeconfigIssue']);
      assert.equal(condition(renew, 'KubeconfigReady').status, 'True');
      assert.equal(condition(renew, 'Ready').status, 'True');
      for (const a of renew.actions) world.execute('payment-team', a);
      assert.match(world.vault.secrets[KUBECONFIG]!.kubeconfig!, /sim-token-2/);
      assert.ok(world.vault.secrets[KUBECONFIG]!.expirationTimestamp! > expiry);
      assert.deepEqual(reconcile(world.observe('payment-team')).actions, []);
      // Missed every resync until it expired: reissued, and what follows waits.
      world.cluster.now = at(world.vault.secrets[KUBECONFIG]!.expirationTimestamp!, 1);
      const expired = reconcile(world.observe('payment-team'));
      assert.deepEqual(expired.actions.map((a) => a.type), ['kubeconfigIssue']);
      assert.equal(condition(expired, 'KubeconfigReady').reason, 'IssuingToken');
      assert.equal(condition(expired, 'SecretsReady').reason, 'Waiting');
      // An API server that gave a shorter life than asked (an hour): renewed at a third of that, not on every pass.
      world.vault.secrets[KUBECONFIG] = { ...world.vault.secrets[KUBECONFIG]!, issuedAt: NOW, expirationTimestamp: at(NOW, 3600) };
      world.cluster.now = at(NOW, 1800);
      assert.deepEqual(reconcile(world.observe('payment-team')).actions, []);
      world.cluster.now = at(NOW, 2500);
      assert.deepEqual(reconcile(world.observe('payment-team')).actions.map((a) => a.type), ['kubeconfigIssue']);
    });

    it('a ServiceAccount made again (a new uid, the old token void) or a kubeconfig for another namespace is issued again', () => {
      const world = provisioned();
      const sa = [...world.objects.values()].find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'payment-team-kubeconfig')!;
      sa.metadata.uid = 'uid-again';
      assert.deepEqual(reconcile(world.observe('payment-team')).actions.map((a) => a.type), ['kubeconfigIssue']);
      world.settle('payment-team');
      assert.equal(world.vault.secrets[KUBECONFIG]!.serviceAccountUid, 'uid-again');
      world.vault.secrets[KUBECONFIG]!.namespace = 'other';
      assert.deepEqual(reconcile(world.observe('payment-team')).actions.map((a) => a.type), ['kubeconfigIssue']);
    });

    it('deleting: the kubeconfig, then the RoleBinding, Role and ServiceAccount, after the credentials and before the vault policy', () => {
      const world = provisioned();
      world.markDeleted('payment-team');
      world.log = [];
      world.settle('payment-team');
      const steps = world.log.map(stepOf);
      assert.ok(steps.lastIndexOf('Secrets') < steps.indexOf('Kubeconfig') && steps.lastIndexOf('Kubeconfig') < steps.indexOf('Vault'));
      const mine = world.log.filter((a) => stepOf(a) === 'Kubeconfig');
      assert.deepEqual(
        mine.map((a) => (a.type === 'delete' ? a.ref.kind : a.type === 'vaultDeleteSecret' ? a.path : a.type)),
        [KUBECONFIG, 'RoleBinding', 'Role', 'ServiceAccount'],
      );
      assert.equal(world.vault.secrets[KUBECONFIG], undefined);
      assert.ok(![...world.objects.values()].some((o) => o.metadata.name === 'payment-team-kubeconfig'));
      assert.equal(world.resources.has('payment-team'), false);
    });

    it('without an API server to issue for (local mode) the step is ready with nothing made; without the vault it is disabled', () => {
      const world = new SimWorld();
      world.add(example());
      const last = world.settle('payment-team').at(-1)!;
      assert.equal(condition(last, 'KubeconfigReady').reason, 'NoCluster');
      assert.ok(!world.log.some((a) => stepOf(a) === 'Kubeconfig'));
      const noVault = new SimWorld();
      noVault.cluster = { server: 'https://kubernetes.default.svc', now: NOW };
      const spec = example();
      (spec.spec as any).vault = { enabled: false };
      noVault.add(spec);
      assert.equal(condition(noVault.settle('payment-team').at(-1)!, 'KubeconfigReady').reason, 'Disabled');
      assert.ok(!noVault.log.some((a) => stepOf(a) === 'Kubeconfig'));
    });
  });
});
