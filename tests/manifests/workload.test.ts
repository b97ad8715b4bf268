// The long-running exceptions in the generated manifests: the vault unsealer and the ingress run as
// Deployments that survive rollouts and node drains, never as Knative Services.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultOptions, generateManifests, readCrds, type Manifest } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import type { FunctionDeclaration } from '#shared/function/define';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import { ManifestError } from '#manifests/index';
import { tokenFunction, unsealerFunction } from './sample-declarations.js';

const root = projectRoot();
const opts = defaultOptions('1.2.3', { namespace: 'platform' });
let decls: FunctionDeclaration[];
let objects: Map<string, Manifest[]>;
const all = (): any[] => [...objects.values()].flat();
const find = (file: string, kind: string): any => objects.get(file)!.find((d) => d.kind === kind && d.apiVersion !== 'serving.knative.dev/v1');
const isKService = (d: any) => d.apiVersion === 'serving.knative.dev/v1' && d.kind === 'Service';
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('the long-running workloads (knative/ from the project declarations)', () => {
  before(async () => {
    decls = await discoverFunctions(functionsDir(root));
    objects = generateManifests(decls, opts, readCrds(root)).objects;
  });

  it('renders no Knative Service for the unsealer or the ingress, and one for every other function', () => {
    const kservices = all().filter(isKService).map((d) => d.metadata.name);
    assert.ok(!kservices.includes('vault-unsealer'));
    assert.ok(!kservices.some((n: string) => n.includes('ingress')));
    for (const d of decls.filter((x) => !x.longRunning)) assert.ok(kservices.includes(d.name), d.name);
    const ingress = find('ingress/deployment.yaml', 'Deployment');
    assert.equal(ingress.kind, 'Deployment');
  });

  it('runs the unsealer as a surge-first Deployment ready only while unsealed, behind a ClusterIP Service', () => {
    const deployment = find('functions/vault-unsealer.yaml', 'Deployment');
    assert.ok(deployment.spec.replicas >= 2, 'a budget of one needs a second replica to let a node drain');
    assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const pod = deployment.spec.template.spec;
    const [c] = pod.containers;
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http1' });
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http1' });
    // The port name the functions' PodMonitor scrapes (zeno_vault_sealed comes from here).
    assert.ok(c.ports.some((p: any) => p.name === 'http1'));
    // The declaration's own resources, not the generator's defaults.
    const unsealer = decls.find((d) => d.name === 'vault-unsealer')!;
    assert.equal(c.resources.limits.memory, unsealer.runtime!.resources!.limits!.memory);
    assert.equal(c.resources.requests.cpu, unsealer.runtime!.resources!.requests!.cpu);
    assert.ok(pod.terminationGracePeriodSeconds > c.lifecycle.preStop.sleep.seconds);
    const env = Object.fromEntries(c.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    assert.equal(env.K_SERVICE, 'vault-unsealer', 'the platform knows it runs in a cluster: shared keys required');
    assert.equal(env.ZENO_FUNCTION, 'vault-unsealer');
    // The same hardened container as every function's Knative Service.
    const kservice = objects.get('functions/vault-api.yaml')!.find(isKService) as any;
    assert.deepEqual(c.securityContext, kservice.spec.template.spec.containers[0].securityContext);
    assert.equal(pod.securityContext.runAsNonRoot, true);

    const service = find('functions/vault-unsealer.yaml', 'Service');
    assert.equal(service.spec.type, 'ClusterIP');
    assert.ok(matches(service.spec.selector, deployment.spec.template.metadata.labels));
    assert.deepEqual(service.spec.ports.map((p: any) => [p.port, p.targetPort]), [[80, 'http1']]);
    const route = find('functions/vault-unsealer.yaml', 'HTTPRoute');
    for (const rule of route.spec.rules) assert.deepEqual(rule.backendRefs.map((b: any) => [b.kind, b.name, b.port]), [['Service', 'vault-unsealer', 80]]);
  });

  it('keeps one unsealer and one proxy through voluntary disruptions', () => {
    for (const [file, name] of [['functions/vault-unsealer.yaml', 'vault-unsealer'], ['ingress/deployment.yaml', 'zenokube-ingress']] as const) {
      const budget = find(file, 'PodDisruptionBudget');
      const deployment = find(file, 'Deployment');
      assert.equal(budget.metadata.name, name);
      assert.equal(budget.spec.minAvailable, 1);
      assert.ok(matches(budget.spec.selector.matchLabels, deployment.spec.template.metadata.labels), file);
      assert.ok(deployment.spec.replicas > budget.spec.minAvailable, `${file}: a drain can evict one`);
    }
  });

  it('gives the ingress probes, a surge-first rollout and time to drain', () => {
    const deployment = find('ingress/deployment.yaml', 'Deployment');
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
    const pod = deployment.spec.template.spec;
    const [c] = pod.containers;
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    // The pause before SIGTERM plus the proxy's 10 s drain fit in the grace period.
    assert.ok(pod.terminationGracePeriodSeconds >= c.lifecycle.preStop.sleep.seconds + 10);
  });

  it('lets only vault-api, the ingress and labelled operator pods reach the unsealer', () => {
    const policy = find('functions/vault-unsealer.yaml', 'NetworkPolicy');
    const deployment = find('functions/vault-unsealer.yaml', 'Deployment');
    assert.ok(matches(policy.spec.podSelector.matchLabels, deployment.spec.template.metadata.labels));
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    assert.equal(policy.spec.ingress.length, 1);
    const [rule] = policy.spec.ingress;
    assert.deepEqual(rule.ports, [{ protocol: 'TCP', port: 8080 }]);
    const api = (objects.get('functions/vault-api.yaml')!.find(isKService) as any).spec.template.metadata.labels;
    const ingressPod = find('ingress/deployment.yaml', 'Deployment').spec.template.metadata.labels;
    const admitted = (labels: Record<string, string>, namespace: string) =>
      rule.from.some((peer: any) =>
        matches(peer.podSelector?.matchLabels ?? {}, labels) &&
        (peer.namespaceSelector ? matches(peer.namespaceSelector.matchLabels, { 'kubernetes.io/metadata.name': namespace }) : namespace === opts.namespace));
    assert.ok(admitted(api, opts.namespace), 'vault-api');
    assert.ok(admitted(ingressPod, opts.gateway.namespace), 'the ingress, for the public sys/ routes');
    assert.ok(admitted({ 'zenokube.io/vault-operator': 'true' }, opts.namespace), 'operators');
    assert.ok(!admitted({ 'zenokube.io/vault-operator': 'true' }, 'elsewhere'), 'operators of another namespace');
    for (const d of decls.filter((x) => x.name !== 'vault-api' && !x.longRunning)) {
      const labels = (objects.get(`functions/${d.name}.yaml`)!.find(isKService) as any).spec.template.metadata.labels;
      assert.ok(!admitted(labels, opts.namespace), d.name);
    }
  });

  it("hands vault-api the unsealer Service's full DNS name in the configured namespace", () => {
    const c = (objects.get('functions/vault-api.yaml')!.find(isKService) as any).spec.template.spec.containers[0];
    assert.deepEqual(c.env.find((e: any) => e.name === 'VAULT_UNSEALER_URL'), { name: 'VAULT_UNSEALER_URL', value: 'http://vault-unsealer.platform.svc.cluster.local' });
    const other = generateManifests(decls, defaultOptions('1.2.3', { namespace: 'edge', clusterDomain: 'corp.internal' })).objects;
    const c2 = (other.get('functions/vault-api.yaml')!.find(isKService) as any).spec.template.spec.containers[0];
    assert.equal(c2.env.find((e: any) => e.name === 'VAULT_UNSEALER_URL').value, 'http://vault-unsealer.edge.svc.corp.internal');
  });

  it('refuses events for a long-running function, whose Service is no Knative Service', () => {
    const subscribing = { ...unsealerFunction, subscribes: [{ type: 'io.zenokube.vault.seal.changed' }] };
    assert.throws(() => generateManifests([subscribing], opts), (err: unknown) => err instanceof ManifestError && /receives no events/.test(err.message));
  });

  it('refuses a service URL naming a function that is not long-running', () => {
    const caller = { ...tokenFunction, env: { PEER_URL: { description: 'x', service: 'auth-token' } } };
    assert.throws(() => generateManifests([caller, unsealerFunction], opts), (err: unknown) => err instanceof ManifestError && /PEER_URL names auth-token/.test(err.message));
  });
});
