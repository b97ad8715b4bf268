// The committed knative/ is current, and every manifest validates against its upstream CRD schema.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { functionsDir, packageVersion } from '#cli/manifests';
import { generateManifests, type Manifest } from '#cli/manifests/generate';
import { defaultOptions } from '#cli/manifests/options';
import { listYaml } from '#cli/manifests/write';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions } from '#shared/function/discover';
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
  if (obj.apiVersion === 'kustomize.config.k8s.io/v1beta1' && obj.kind === 'Kustomization') {
    const dir = join(knativeDir, file, '..');
    return ((obj.resources as string[]) ?? []).filter((r) => !existsSync(join(dir, r))).map((r) => `resource ${r} does not exist`);
  }
  return undefined;
}

function problemsOf(v: CrdValidators, obj: Manifest, file: string): string[] {
  const schema = v.validate(obj) ?? coreProblems(obj, file);
  if (schema === undefined) return [`no schema for ${obj.apiVersion as string} ${obj.kind as string}`];
  const meta = obj.kind === 'Kustomization' ? [] : metadataProblems(obj);
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
      'gateway.networking.k8s.io/v1 HTTPRoute',
      'postgresql.cnpg.io/v1 Cluster',
    ]) {
      assert.ok(validators.byKind.has(kind), kind);
    }
  });

  it('is what the generator writes from the current declarations (run npm run manifests when this fails)', async () => {
    const decls = await discoverFunctions(functionsDir(root));
    const { files } = generateManifests(decls, defaultOptions(packageVersion(root)));
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
    const { objects } = generateManifests(sampleDeclarations, defaultOptions('1.2.3'));
    const kinds = new Set<string>();
    for (const [file, docs] of objects) {
      for (const obj of docs) {
        kinds.add(obj.kind as string);
        const problems = obj.kind === 'Kustomization' ? [] : problemsOf(validators, obj, file);
        assert.deepEqual(problems, [], `${file}: ${obj.kind as string}/${(obj.metadata as any)?.name}`);
      }
    }
    assert.deepEqual([...kinds].sort(), ['Broker', 'Cluster', 'HTTPRoute', 'Job', 'Kustomization', 'PingSource', 'Service', 'SinkBinding', 'Trigger']);
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
    const badDelivery = structuredClone(trigger!) as any;
    badDelivery.spec.delivery.retry = 'five';
    assert.match(validators.validate(badDelivery)!.join('\n'), /retry must be integer/);
  });
});
