// The committed knative/ is current, and every manifest validates against its upstream CRD schema.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { defaultOptions, generateManifests, listYaml, packageVersion, readCrds, type Manifest } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import { loadCrdValidators, metadataProblems, type CrdValidators } from './crd-schema.js';
import { sampleDeclarations } from './sample-declarations.js';

const root = projectRoot();
const knativeDir = join(root, 'knative');

/** Core kinds have no CRD: their shape is checked by hand. */
function coreProblems(obj: Manifest, file: string): string[] | undefined {
  if (obj.apiVersion === 'batch/v1' && obj.kind === 'Job') {
    const pod = (obj.spec as any)?.template?.spec;
    const problems: string[] = [];
    if (!['OnFailure', 'Never'].includes(pod?.restartPolicy)) problems.push('a Job pod needs restartPolicy OnFailure or Never');
    if (!Array.isArray(pod?.containers) || pod.containers.length === 0) problems.push('no containers');
    for (const c of pod?.containers ?? []) {
      if (typeof c.name !== 'string' || typeof c.image !== 'string') problems.push('container without name or image');
      for (const e of c.env ?? []) if (!e.name || ('value' in e) === ('valueFrom' in e)) problems.push(`env ${e.name}: exactly one of value, valueFrom`);
    }
    return problems;
  }
  if (obj.apiVersion === 'apps/v1' && obj.kind === 'Deployment') {
    const spec = obj.spec as any;
    const problems: string[] = [];
    const labels = spec?.template?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(spec?.selector?.matchLabels ?? {})) if (labels[k] !== v) problems.push(`selector ${k}=${String(v)} does not select the pod template`);
    if (!Array.isArray(spec?.template?.spec?.containers) || spec.template.spec.containers.length === 0) problems.push('no containers');
    if (spec?.template?.spec?.securityContext?.runAsNonRoot !== true) problems.push('pods must run as non-root');
    for (const c of spec?.template?.spec?.containers ?? []) {
      if (typeof c.name !== 'string' || typeof c.image !== 'string') problems.push('container without name or image');
      const ports = new Set((c.ports ?? []).map((p: { name?: string }) => p.name));
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        if (!probe) problems.push(`container ${c.name} lacks a probe`);
        else if (typeof probe.httpGet?.port === 'string' && !ports.has(probe.httpGet.port)) problems.push(`probe port ${probe.httpGet.port} is not a container port`);
      }
      if (!c.resources?.requests) problems.push(`container ${c.name} has no resource requests`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`container ${c.name} may escalate privileges`);
    }
    return problems;
  }
  if (obj.apiVersion === 'v1' && obj.kind === 'Service') {
    const spec = obj.spec as any;
    const problems: string[] = [];
    if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec?.type)) problems.push(`Service type ${String(spec?.type)}`);
    if (!spec?.selector || Object.keys(spec.selector).length === 0) problems.push('a Service without a selector has no endpoints');
    for (const p of spec?.ports ?? []) if (!Number.isInteger(p.port) || p.targetPort === undefined) problems.push('ports need port and targetPort');
    return problems;
  }
  if (obj.apiVersion === 'policy/v1' && obj.kind === 'PodDisruptionBudget') {
    const spec = obj.spec as any;
    const problems: string[] = [];
    if ((spec?.minAvailable === undefined) === (spec?.maxUnavailable === undefined)) problems.push('exactly one of minAvailable, maxUnavailable');
    if (!spec?.selector?.matchLabels || Object.keys(spec.selector.matchLabels).length === 0) problems.push('a budget without a selector covers nothing');
    return problems;
  }
  if (obj.apiVersion === 'networking.k8s.io/v1' && obj.kind === 'NetworkPolicy') {
    const spec = obj.spec as any;
    const problems: string[] = [];
    if (!spec?.podSelector) problems.push('podSelector is required');
    for (const t of spec?.policyTypes ?? []) if (!['Ingress', 'Egress'].includes(t)) problems.push(`policy type ${String(t)}`);
    for (const rule of spec?.ingress ?? []) {
      for (const peer of rule.from ?? []) if (!peer.podSelector && !peer.namespaceSelector && !peer.ipBlock) problems.push('a peer needs a selector or an ipBlock');
      for (const port of rule.ports ?? []) if (!['TCP', 'UDP', 'SCTP'].includes(port.protocol) || port.port === undefined) problems.push('a port needs protocol and port');
    }
    return problems;
  }
  if (obj.apiVersion === 'rbac.authorization.k8s.io/v1' && (obj.kind === 'ClusterRole' || obj.kind === 'Role')) {
    return ((obj.rules as any[]) ?? []).filter((r) => !Array.isArray(r.apiGroups) || !r.resources?.length || !r.verbs?.length).map(() => 'a rule needs apiGroups, resources and verbs');
  }
  if (obj.apiVersion === 'rbac.authorization.k8s.io/v1' && (obj.kind === 'ClusterRoleBinding' || obj.kind === 'RoleBinding')) {
    const ref = obj.roleRef as any;
    return ref?.apiGroup === 'rbac.authorization.k8s.io' && ref?.kind && ref?.name && (obj.subjects as any[])?.length ? [] : ['roleRef and subjects are required'];
  }
  if (obj.apiVersion === 'v1' && (obj.kind === 'ServiceAccount' || obj.kind === 'Namespace')) return [];
  if (obj.apiVersion === 'v1' && obj.kind === 'ConfigMap') {
    const data = (obj.data ?? {}) as Record<string, unknown>;
    const problems = Object.entries(data).filter(([k, v]) => !/^[-._a-zA-Z0-9]+$/.test(k) || typeof v !== 'string').map(([k]) => `data key ${k}: a valid key with a string value`);
    // The API server refuses a ConfigMap over 1 MiB.
    if (Buffer.byteLength(JSON.stringify(data)) > 1024 * 1024) problems.push('over 1 MiB');
    return problems;
  }
  if (obj.apiVersion === 'apiextensions.k8s.io/v1' && obj.kind === 'CustomResourceDefinition') {
    const spec = obj.spec as any;
    const problems: string[] = [];
    // The API server requires this name; it is a DNS subdomain, not a label.
    if ((obj.metadata as any)?.name !== `${spec?.names?.plural}.${spec?.group}`) problems.push('a CRD is named <plural>.<group>');
    if (!(spec?.versions?.length > 0 && spec.versions.every((v: any) => v.schema?.openAPIV3Schema))) problems.push('every CRD version needs a schema');
    return problems;
  }
  if (obj.apiVersion === 'kustomize.config.k8s.io/v1beta1' && obj.kind === 'Kustomization') {
    const dir = join(knativeDir, file, '..');
    return ((obj.resources as string[]) ?? []).filter((r) => !existsSync(join(dir, r))).map((r) => `resource ${r} does not exist`);
  }
  return undefined;
}

function problemsOf(v: CrdValidators, obj: Manifest, file: string): string[] {
  const schema = v.validate(obj) ?? coreProblems(obj, file);
  if (schema === undefined) return [`no schema for ${obj.apiVersion as string} ${obj.kind as string}`];
  const meta = obj.kind === 'Kustomization' ? [] : metadataProblems(obj).filter((p) => obj.kind !== 'CustomResourceDefinition' || !p.startsWith('metadata.name'));
  return [...schema, ...meta];
}

describe('knative/ (generated manifests)', () => {
  let validators: CrdValidators;
  before(() => {
    validators = loadCrdValidators(join(root, 'tests', 'schemas'));
  });

  it('loads a schema for every kind the generator emits', () => {
    for (const kind of [
      'serving.knative.dev/v1 Service',
      'eventing.knative.dev/v1 Trigger',
      'eventing.knative.dev/v1 Broker',
      'sources.knative.dev/v1 SinkBinding',
      'sources.knative.dev/v1 PingSource',
      'sources.knative.dev/v1 ApiServerSource',
      'gateway.networking.k8s.io/v1 HTTPRoute',
      'gateway.networking.k8s.io/v1 Gateway',
      'gateway.networking.k8s.io/v1 GatewayClass',
      'postgresql.cnpg.io/v1 Cluster',
      'postgresql.cnpg.io/v1 Pooler',
      'postgresql.cnpg.io/v1 ScheduledBackup',
      'barmancloud.cnpg.io/v1 ObjectStore',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 PodMonitor',
    ]) {
      assert.ok(validators.byKind.has(kind), kind);
    }
  });

  it('is what the generator writes from the current declarations (run npm run manifests when this fails)', async () => {
    const decls = await discoverFunctions(functionsDir(root));
    const { files } = generateManifests(decls, defaultOptions(packageVersion(root)), readCrds(root));
    const onDisk = listYaml(knativeDir);
    assert.deepEqual(onDisk, [...files.keys()].sort(), 'knative/ holds other files than the generator writes');
    for (const [path, content] of files) {
      assert.equal(readFileSync(join(knativeDir, path), 'utf8'), content, `knative/${path} is stale`);
    }
  });

  it('validates every committed manifest against its upstream schema', () => {
    for (const file of listYaml(knativeDir)) {
      for (const doc of parseAllDocuments(readFileSync(join(knativeDir, file), 'utf8'))) {
        assert.deepEqual(doc.errors, [], file);
        const obj = doc.toJS() as Manifest;
        assert.deepEqual(problemsOf(validators, obj, file), [], `${file}: ${obj.kind as string}/${(obj.metadata as any)?.name}`);
      }
    }
  });

  it('validates the manifests of declarations using every feature', () => {
    const { objects } = generateManifests(sampleDeclarations, defaultOptions('1.2.3'), readCrds(root));
    const kinds = new Set<string>();
    for (const [file, docs] of objects) {
      for (const obj of docs) {
        kinds.add(obj.kind as string);
        const problems = obj.kind === 'Kustomization' ? [] : problemsOf(validators, obj, file);
        assert.deepEqual(problems, [], `${file}: ${obj.kind as string}/${(obj.metadata as any)?.name}`);
      }
    }
    assert.deepEqual([...kinds].sort(), [
      'ApiServerSource', 'Broker', 'Cluster', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'CustomResourceDefinition', 'Deployment', 'Gateway', 'GatewayClass',
      'HTTPRoute', 'Job', 'Kustomization', 'Namespace', 'NetworkPolicy', 'ObjectStore', 'PingSource', 'PodDisruptionBudget', 'PodMonitor', 'Pooler', 'PrometheusRule',
      'Role', 'RoleBinding', 'ScheduledBackup', 'Service', 'ServiceAccount', 'SinkBinding', 'Trigger',
    ]);
  });

  it('rejects a manifest with a misspelt field, a wrong type or a missing required field', () => {
    const { objects } = generateManifests(sampleDeclarations, defaultOptions('1.2.3'));
    const [service, , trigger] = objects.get('functions/auth-scim-push.yaml')!;
    const typo = structuredClone(service!) as any;
    typo.spec.template.spec.containers[0].readinesProbe = typo.spec.template.spec.containers[0].readinessProbe;
    assert.match(validators.validate(typo)!.join('\n'), /readinesProbe/);
    const wrongType = structuredClone(service!) as any;
    wrongType.spec.template.spec.containerConcurrency = '10';
    assert.match(validators.validate(wrongType)!.join('\n'), /containerConcurrency must be integer/);
    const noContainers = structuredClone(service!) as any;
    delete noContainers.spec.template.spec.containers;
    assert.match(validators.validate(noContainers)!.join('\n'), /must have required property 'containers'/);
    const gateway = structuredClone(generateManifests(sampleDeclarations, defaultOptions('1.2.3')).objects.get('ingress/gateway.yaml')![1]!) as any;
    gateway.spec.listeners[0].protocl = gateway.spec.listeners[0].protocol;
    delete gateway.spec.listeners[0].protocol;
    assert.match(validators.validate(gateway)!.join('\n'), /protocl[\s\S]*protocol|protocol[\s\S]*protocl/);
    const badDelivery = structuredClone(trigger!) as any;
    badDelivery.spec.delivery.retry = 'five';
    assert.match(validators.validate(badDelivery)!.join('\n'), /retry must be integer/);
  });
});
