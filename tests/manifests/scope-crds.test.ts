// crds/zeno-scope.yaml and crds/remote-secret.yaml: structural schemas a cluster accepts, the
// documented example valid as written, mistakes refused, defaults that agree with the reconciler's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { projectRoot } from '#shared/db/root';
import { withDefaults } from '#functions/scope/core/spec';
import { loadCrdValidators } from './crd-schema.js';

const root = projectRoot();
const validators = loadCrdValidators(join(root, 'crds'));
const crds = ['zeno-scope.yaml', 'remote-secret.yaml'].flatMap((f) => parseAllDocuments(readFileSync(join(root, 'crds', f), 'utf8')).map((d) => d.toJS() as any));
const crd = (kind: string) => crds.find((c) => c.spec.names.kind === kind)!;
const schemaOf = (kind: string) => crd(kind).spec.versions[0].schema.openAPIV3Schema;

/** The first ```yaml block of docs/scope.md: the example users copy. */
function documentedExample(): any {
  const text = readFileSync(join(root, 'docs', 'scope.md'), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(text);
  assert.ok(block, 'docs/scope.md has a yaml example');
  return parse(block[1]!);
}

/** Every schema node below `node` with its JSON path. */
function* nodes(node: any, path = ''): Generator<[string, any]> {
  yield [path, node];
  for (const [k, v] of Object.entries(node.properties ?? {})) yield* nodes(v, `${path}.${k}`);
  if (node.items) yield* nodes(node.items, `${path}[]`);
}

describe('crds/zeno-scope.yaml and crds/remote-secret.yaml', () => {
  it('accepts the documented ZenoScope example as written, and the same spec as a ZenoApp', () => {
    const example = documentedExample();
    assert.deepEqual(validators.validate(example), []);
    assert.deepEqual(validators.validate({ ...example, kind: 'ZenoApp', metadata: { name: 'payments', namespace: 'payments' } }), []);
  });

  it('refuses typos, bad hostnames, ports out of range and unknown policies', () => {
    const example = documentedExample();
    const bad = (mutate: (e: any) => void) => {
      const e = structuredClone(example);
      mutate(e);
      return validators.validate(e)!;
    };
    assert.match(bad((e) => (e.spec.databse = e.spec.database)).join(), /additional properties \(databse\)/);
    assert.match(bad((e) => (e.spec.ingress.hosts[0].hostname = 'API.payments!')).join(), /hostname/);
    assert.match(bad((e) => (e.spec.ingress.hosts[0].paths[0].service.port = 0)).join(), /port/);
    assert.match(bad((e) => (e.spec.database.reclaimPolicy = 'drop')).join(), /reclaimPolicy/);
    assert.match(bad((e) => (e.spec.oauth.redirectUris = ['http://evil.example/cb'])).join(), /redirectUris/);
    assert.match(bad((e) => (e.spec.database.extensions = ['pgcrypto; drop table x'])).join(), /extensions/);
    assert.match(bad((e) => delete e.spec).join(), /spec/);
  });

  it('fills the same defaults as the reconciler does', () => {
    const ajv = new Ajv({ strict: false, useDefaults: true, validateFormats: false });
    for (const kind of ['ZenoScope', 'ZenoApp']) {
      const example = documentedExample();
      const validate = ajv.compile(schemaOf(kind)) as (data: unknown) => boolean;
      // The API server defaults a field only where its parent object is present, as ajv does.
      assert.ok(validate(example));
      assert.deepEqual(withDefaults(example.spec), withDefaults(documentedExample().spec));
      const defaulted = withDefaults(documentedExample().spec) as any;
      assert.equal(example.spec.database.clusterRef.namespace, defaulted.database.clusterRef.namespace);
      assert.equal(example.spec.database.reclaimPolicy, defaulted.database.reclaimPolicy);
      assert.equal(example.spec.vault.tokenTTL, defaulted.vault.tokenTTL);
      assert.equal(example.spec.ingress.hosts[0].paths[0].pathType, defaulted.ingress.hosts[0].paths[0].pathType);
      assert.equal(example.spec.oauth.tenant, defaulted.oauth.tenant);
      assert.deepEqual(example.spec.oauth.scopes, defaulted.oauth.scopes);
      assert.deepEqual([example.spec.monitoring.port, example.spec.monitoring.path, example.spec.monitoring.interval], [defaulted.monitoring.port, defaulted.monitoring.path, defaulted.monitoring.interval]);
    }
  });

  it('gives ZenoScope and ZenoApp one spec, ZenoScope adding only its namespace', () => {
    const scope = structuredClone(schemaOf('ZenoScope').properties.spec);
    delete scope.properties.namespace;
    assert.deepEqual(scope, schemaOf('ZenoApp').properties.spec);
    assert.equal(crd('ZenoScope').spec.scope, 'Cluster');
    assert.equal(crd('ZenoApp').spec.scope, 'Namespaced');
    assert.equal(crd('RemoteSecret').spec.scope, 'Namespaced');
  });

  it('declares structural schemas: every node typed, every default valid, a status subresource with observedGeneration and conditions', () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    for (const c of crds) {
      const version = c.spec.versions[0];
      assert.deepEqual(version.subresources, { status: {} }, c.metadata.name);
      const schema = version.schema.openAPIV3Schema;
      for (const [path, node] of nodes(schema)) {
        assert.ok(node.type, `${c.metadata.name} ${path} has a type`);
        if ('default' in node) assert.ok(ajv.validate(node, node.default), `${c.metadata.name} ${path} default is valid`);
      }
      const status = schema.properties.status.properties;
      assert.equal(status.observedGeneration.type, 'integer');
      assert.deepEqual(status.conditions.items.required, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);
      assert.equal(status.conditions['x-kubernetes-list-type'], 'map');
    }
  });

  it('prints columns whose paths the schema holds', () => {
    for (const c of crds) {
      const schema = c.spec.versions[0].schema.openAPIV3Schema;
      const paths = new Set([...nodes(schema)].map(([p]) => p));
      for (const col of c.spec.versions[0].additionalPrinterColumns) {
        const path = (col.jsonPath as string).replace(/\[\?\(.*?\)\]/g, '[]').replace(/\[\]\.(\w+)$/, '[].$1');
        const known = path.startsWith('.metadata.') || paths.has(path);
        assert.ok(known, `${c.metadata.name} column ${col.name} reads ${col.jsonPath}`);
      }
    }
  });

  it('accepts a RemoteSecret in the External Secrets shape and refuses an unknown policy', () => {
    const rs = {
      apiVersion: 'vault.zenokube.io/v1alpha1',
      kind: 'RemoteSecret',
      metadata: { name: 'db', namespace: 'payment-team' },
      spec: { path: 'scopes/payment-team/database', refreshInterval: '15m', target: { name: 'db-credentials', creationPolicy: 'Owner', deletionPolicy: 'Delete' }, data: [{ secretKey: 'password', remoteKey: 'password' }] },
    };
    assert.deepEqual(validators.validate(rs), []);
    assert.match(validators.validate({ ...rs, spec: { ...rs.spec, target: { creationPolicy: 'Adopt' } } })!.join(), /creationPolicy/);
    assert.match(validators.validate({ ...rs, spec: { ...rs.spec, refreshInterval: 'soon' } })!.join(), /refreshInterval/);
  });
});
