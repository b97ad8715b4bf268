// The kustomize overlays of deploy/overlays/, built by tests/support/kustomize.ts (the subset of
// kustomize they use, checked to print what `kustomize build` prints): every object valid against
// its upstream schema, and each site what it claims to be.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig, loadEdgeConfig } from '#functions/ingress/tunnel/run';
import { projectRoot } from '#shared/db/root';
import { applyJsonPatch } from '#tests/support/json-patch';
import { buildKustomization, type K8sObject } from '#tests/support/kustomize';
import { loadCrdValidators, metadataProblems, type CrdValidators } from './crd-schema.js';

const root = projectRoot();
const overlays = join(root, 'deploy', 'overlays');
/** API groups of Kubernetes itself: no CRD schema here, the API server's own types. */
const CORE_API = /^(v1|(apps|batch|policy|networking\.k8s\.io|rbac\.authorization\.k8s\.io|apiextensions\.k8s\.io|coordination\.k8s\.io)\/v1)$/;

const build = (name: string) => buildKustomization(join(overlays, name));
const all = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: K8sObject[], kind: string, name?: string) => {
  const found = all(objs, kind).filter((o) => name === undefined || o.metadata.name === name);
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!;
};
const containers = (objs: K8sObject[]) =>
  objs.flatMap((o) => [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.jobTemplate?.spec?.template?.spec?.containers ?? [])] as { name: string; image: string; env?: any[] }[]);

describe('deploy/overlays', () => {
  let validators: CrdValidators;
  before(() => {
    validators = loadCrdValidators(join(root, 'tests', 'schemas'));
  });

  it('has the three sites, the connected primary, and tunnel mode\'s site and edge', () => {
    assert.deepEqual(readdirSync(overlays).sort(), ['air-gapped-site', 'connected-primary', 'connected-site', 'single-cluster', 'tunnel-edge', 'tunnel-site']);
  });

  for (const name of ['single-cluster', 'connected-primary', 'connected-site', 'air-gapped-site', 'tunnel-site', 'tunnel-edge']) {
    it(`${name}: every object validates against its schema and names its namespace`, () => {
      const objs = build(name);
      // The edge is a small stack of its own; every site carries the whole platform.
      assert.ok(objs.length > (name === 'tunnel-edge' ? 6 : 10));
      for (const o of objs) {
        const where = `${name}: ${o.kind}/${o.metadata?.name}`;
        const problems = validators.validate(o);
        if (problems === undefined) assert.match(String(o.apiVersion), CORE_API, `${where}: no schema for ${o.apiVersion}`);
        else assert.deepEqual(problems, [], where);
        if (o.kind !== 'CustomResourceDefinition') assert.deepEqual(metadataProblems(o), [], where);
        if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(o.kind)) assert.ok(o.metadata.namespace, `${where} has no namespace`);
      }
    });
  }

  it('single-cluster: the generated manifests unchanged', () => {
    const objs = build('single-cluster');
    const cluster = one(objs, 'Cluster');
    assert.equal(cluster.spec.replica, undefined);
    assert.ok(cluster.spec.bootstrap.initdb);
    assert.ok(containers(objs).every((c) => c.image.startsWith('zenokube:')));
  });

  it('connected-site: a replica cluster of site A, by streaming with its WAL archive as fallback, archiving to its own store', () => {
    const objs = build('connected-site');
    const cluster = one(objs, 'Cluster', 'zenokube-db');
    const { replica, externalClusters, bootstrap } = cluster.spec;
    assert.notEqual(replica.self, replica.primary, 'this site is not the primary');
    assert.equal(replica.source, replica.primary);
    const source = externalClusters.find((e: any) => e.name === replica.source);
    assert.equal(bootstrap.pg_basebackup.source, source.name);
    assert.equal(source.connectionParameters.user, 'streaming_replica');
    assert.equal(source.connectionParameters.sslmode, 'verify-full');
    assert.ok(source.sslKey && source.sslCert && source.sslRootCert);
    const sourceStore = one(objs, 'ObjectStore', source.plugin.parameters.barmanObjectName);
    const ownStore = one(objs, 'ObjectStore', cluster.spec.plugins[0].parameters.barmanObjectName);
    assert.notEqual(ownStore.spec.configuration.destinationPath, sourceStore.spec.configuration.destinationPath, 'two sites never share an archive');
    assert.ok(externalClusters.some((e: any) => e.name === replica.self), 'the topology lists this site too, for a later demotion of the other');
    // A standby cannot run migrations; they arrive by replication.
    assert.equal(one(objs, 'Job').spec.suspend, true);
    // Every function on the Pooler of this site's -rw Service: writable once this site is promoted.
    const pooler = one(objs, 'Pooler');
    assert.equal(pooler.spec.type, 'rw');
    assert.equal(pooler.spec.cluster.name, cluster.metadata.name);
    for (const c of containers(all(objs, 'Service').filter((s) => s.apiVersion === 'serving.knative.dev/v1'))) {
      assert.equal(new URL(c.env!.find((e) => e.name === 'DATABASE_URL').value).hostname, pooler.metadata.name);
    }
  });

  it('connected-primary and connected-site: one topology, each site the other\'s source', () => {
    const a = one(build('connected-primary'), 'Cluster').spec;
    const b = one(build('connected-site'), 'Cluster').spec;
    assert.equal(a.replica.primary, a.replica.self, 'site A is the primary');
    assert.equal(b.replica.primary, a.replica.self, 'site B follows site A');
    assert.equal(a.replica.source, b.replica.self);
    assert.equal(b.replica.source, a.replica.self);
    const names = (spec: any) => spec.externalClusters.map((e: any) => e.name).sort();
    assert.deepEqual(names(a), names(b));
    assert.ok(a.externalClusters.find((e: any) => e.name === b.replica.self).connectionParameters, 'site A can stream from site B after a switchover');
  });

  it('air-gapped-site: every image from the site registry, backups inside the cluster, no egress out of it', () => {
    const objs = build('air-gapped-site');
    const images = containers(objs).map((c) => c.image);
    assert.ok(images.length >= 3);
    for (const image of [...images, one(objs, 'Cluster').spec.imageName]) assert.match(image, /^registry\.site\.internal\//);
    const store = one(objs, 'ObjectStore').spec.configuration;
    assert.match(new URL(store.endpointURL).hostname, /\.svc\.cluster\.local$/);
    assert.ok(store.endpointCA);
    const policy = one(objs, 'NetworkPolicy', 'zenokube-no-egress').spec;
    assert.deepEqual(policy.policyTypes, ['Egress']);
    assert.deepEqual(policy.podSelector, {});
    for (const rule of policy.egress) for (const to of rule.to) assert.deepEqual(Object.keys(to), ['namespaceSelector'], 'no ipBlock: nothing outside the cluster');
  });
});

/** A mounted file of a pod spec: the ConfigMap or Secret behind `path`, and the key in it. */
function mountedSource(pod: any, path: string): { configMap?: string; secret?: string; key: string } {
  const container = pod.containers[0];
  const mount = (container.volumeMounts ?? []).find((m: any) => path.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `${path} is on a mounted volume`);
  assert.equal(mount.readOnly, true, `${mount.mountPath} is mounted read-only`);
  const volume = pod.volumes.find((v: any) => v.name === mount.name);
  const key = path.slice(mount.mountPath.length + 1);
  return { configMap: volume.configMap?.name, secret: volume.secret?.secretName, key };
}

/** Checks a tunnel file with the process's own loader (every problem listed, as at start). */
function loadShipped<T>(text: string, load: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'zeno-overlay-'));
  try {
    writeFileSync(join(dir, 'file.yaml'), text);
    return load(join(dir, 'file.yaml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/overlays: tunnel mode', () => {
  it('tunnel-site: no way in from outside, and the ingress runs the agent from a file its own loader accepts', () => {
    const objs = build('tunnel-site');
    for (const s of all(objs, 'Service').filter((o) => o.apiVersion === 'v1')) {
      assert.ok(!['LoadBalancer', 'NodePort'].includes(s.spec.type), `${s.metadata.name} is not reachable from outside`);
      assert.equal(s.spec.externalTrafficPolicy, undefined);
    }
    const deployment = one(objs, 'Deployment', 'zenokube-ingress');
    const pod = deployment.spec.template.spec;
    const args: string[] = pod.containers[0].args;
    assert.deepEqual(args.slice(0, 2), ['ingress', '--kube']);
    const file = args[args.indexOf('--tunnel') + 1]!;
    const source = mountedSource(pod, file);
    const configMap = one(objs, 'ConfigMap', source.configMap);
    assert.equal(configMap.metadata.namespace, deployment.metadata.namespace);
    const agent = loadShipped(configMap.data[source.key], loadAgentConfig);
    // The listener is one the site's Gateway has.
    const [gatewayKey, port] = [agent.listener.slice(0, agent.listener.lastIndexOf(':')), Number(agent.listener.slice(agent.listener.lastIndexOf(':') + 1))];
    const gateway = one(objs, 'Gateway');
    assert.equal(gatewayKey, `${gateway.metadata.namespace}/${gateway.metadata.name}`);
    assert.ok(gateway.spec.listeners.some((l: any) => l.port === port), `the Gateway listens on ${port}`);
    // Secrets come from the one Secret the overlay documents, never from the ConfigMap.
    for (const path of [agent.token.clientSecretFile, ...agent.edges.map((e) => e.caFile!)]) assert.equal(mountedSource(pod, path).secret, 'zenokube-tunnel-agent', path);
    const admin = Number(agent.admin!.split(':')[1]);
    assert.ok(pod.containers[0].ports.some((p: any) => p.containerPort === admin && p.name === 'tunnel-admin'));
  });

  it('tunnel-edge: an address per replica for agents, one for users, and a file the edge\'s loader accepts', () => {
    const objs = build('tunnel-edge');
    const set = one(objs, 'StatefulSet', 'zenokube-tunnel-edge');
    const pod = set.spec.template.spec;
    const args: string[] = pod.containers[0].args;
    assert.deepEqual(args.slice(0, 4), ['ingress', 'tunnel', 'edge', '--config']);
    const source = mountedSource(pod, args[4]!);
    const edge = loadShipped(one(objs, 'ConfigMap', source.configMap).data[source.key], loadEdgeConfig);
    for (const path of [edge.agents.certFile, edge.agents.keyFile, edge.users.certFile!, edge.users.keyFile!]) assert.ok(mountedSource(pod, path).secret, `${path} comes from a Secret`);
    const containerPort = (name: string) => pod.containers[0].ports.find((p: any) => p.name === name).containerPort;
    assert.equal(Number(edge.agents.listen.split(':')[1]), containerPort('agents'));
    assert.equal(Number(edge.users.listen.split(':')[1]), containerPort('users'));
    assert.equal(Number(edge.admin!.split(':')[1]), containerPort(pod.containers[0].readinessProbe.httpGet.port));
    const services = all(objs, 'Service');
    const users = one(objs, 'Service', 'zenokube-tunnel-edge-users');
    assert.equal(users.spec.type, 'LoadBalancer');
    assert.deepEqual(users.spec.selector, set.spec.selector.matchLabels);
    assert.equal(users.spec.ports[0].targetPort, 'users');
    // Each replica its own address on the agents' port.
    for (let i = 0; i < set.spec.replicas; i++) {
      const s = services.find((o) => o.spec.selector['statefulset.kubernetes.io/pod-name'] === `${set.metadata.name}-${i}`);
      assert.ok(s, `replica ${i} has an address of its own`);
      assert.equal(s.spec.type, 'LoadBalancer');
      assert.equal(s.spec.ports[0].targetPort, 'agents');
    }
    assert.equal(one(objs, 'Service', set.spec.serviceName).spec.clusterIP, 'None');
    assert.equal(one(objs, 'PodDisruptionBudget').spec.minAvailable, 1);
  });
});

describe('tests/support/json-patch (RFC 6902)', () => {
  it('adds, replaces and removes through escaped pointers, appending with "-"', () => {
    const doc: any = { a: { 'b/c': 1, 'd~e': [1, 2] } };
    applyJsonPatch(doc, [
      { op: 'replace', path: '/a/b~1c', value: 2 },
      { op: 'add', path: '/a/d~0e/-', value: 3 },
      { op: 'add', path: '/a/d~0e/0', value: 0 },
      { op: 'remove', path: '/a/d~0e/1' },
      { op: 'test', path: '/a/b~1c', value: 2 },
    ]);
    assert.deepEqual(doc, { a: { 'b/c': 2, 'd~e': [0, 2, 3] } });
  });

  it('refuses to replace or remove what is not there, and a failed test', () => {
    assert.throws(() => applyJsonPatch({ a: {} }, [{ op: 'replace', path: '/a/b', value: 1 }]), /nothing to replace/);
    assert.throws(() => applyJsonPatch({ a: [1] }, [{ op: 'remove', path: '/a/1' }]), /out of bounds|nothing to remove/);
    assert.throws(() => applyJsonPatch({ a: {} }, [{ op: 'add', path: '/x/y', value: 1 }]), /no object at "x"/);
    assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]), /test failed/);
  });
});
