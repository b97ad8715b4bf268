// A function's `runtime` declaration: checked when it loads, rendered into its Knative Service
// over the generator's defaults (resources, probes, NODE_OPTIONS, ZENO_DB_POOL_MAX).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkDeclarations, defaultOptions, generateManifests, ManifestError } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import { defineFunction, type FunctionDeclaration } from '#shared/function/define';
import { parseQuantity, runtimeProblems, type RuntimeDeclaration } from '#shared/function/runtime';
import { loadConfig } from '#shared/config/index';
import { pushFunction, tokenFunction } from './sample-declarations.js';

const opts = defaultOptions('1.2.3');
const containerOf = (decl: FunctionDeclaration): any => {
  const svc = (generateManifests([decl], opts).objects.get(`functions/${decl.name}.yaml`) as any[])[0];
  return svc.spec.template.spec.containers[0];
};
const withRuntime = (runtime: RuntimeDeclaration): FunctionDeclaration => ({ ...pushFunction, runtime });

describe('runtime declaration: rendering', () => {
  it('renders declared resources over the defaults, key by key', () => {
    assert.deepEqual(containerOf(tokenFunction).resources, { requests: { cpu: '250m', memory: '160Mi' }, limits: { cpu: '2', memory: '384Mi' } });
    assert.deepEqual(containerOf(withRuntime({ resources: { limits: { memory: '512Mi' } } })).resources, {
      requests: opts.resources.requests,
      limits: { memory: '512Mi' },
    });
    assert.deepEqual(containerOf(pushFunction).resources, opts.resources);
  });

  it('renders probes from the declared fields over the defaults', () => {
    const c = containerOf(tokenFunction);
    assert.deepEqual(c.readinessProbe, { httpGet: { path: '/readyz' }, successThreshold: 1, failureThreshold: 2, periodSeconds: 2 });
    assert.deepEqual(c.livenessProbe, { httpGet: { path: '/livez' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, initialDelaySeconds: 5 });
    // No periodSeconds on readiness by default: Knative's queue-proxy then probes aggressively until ready.
    const d = containerOf(pushFunction);
    assert.deepEqual(d.readinessProbe, { httpGet: { path: '/readyz' }, successThreshold: 1, failureThreshold: 3 });
    assert.deepEqual(d.livenessProbe, { httpGet: { path: '/healthz' }, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 });
  });

  it('renders nodeOptions as NODE_OPTIONS and databasePool as ZENO_DB_POOL_MAX (default 10), which the config reads back', () => {
    const env = (decl: FunctionDeclaration) => Object.fromEntries(containerOf(decl).env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    const token = env(tokenFunction);
    assert.equal(token.NODE_OPTIONS, '--max-old-space-size=256 --enable-source-maps');
    assert.equal(token.ZENO_DB_POOL_MAX, '4');
    const push = env(pushFunction);
    assert.equal(push.NODE_OPTIONS, undefined);
    assert.equal(push.ZENO_DB_POOL_MAX, '10');
    assert.equal(loadConfig({ ZENO_DB_POOL_MAX: token.ZENO_DB_POOL_MAX }).database.poolMax, 4);
    assert.equal(loadConfig({}).database.poolMax, Number(push.ZENO_DB_POOL_MAX));
  });

  it('gives every declared function of the project resources, a pool, and limits its heap stays under', async () => {
    const decls = await discoverFunctions(functionsDir(projectRoot()));
    assert.ok(decls.length >= 6);
    for (const d of decls) {
      assert.ok(d.runtime?.resources?.requests?.cpu && d.runtime.resources.requests.memory, `${d.name}: declares its requests`);
      assert.ok(d.runtime.databasePool, `${d.name}: declares its pool`);
      assert.deepEqual(runtimeProblems(d.runtime, opts.resources.limits), [], d.name);
    }
    const cpu = (name: string) => parseQuantity(decls.find((d) => d.name === name)!.runtime!.resources!.requests!.cpu!)!;
    assert.ok(cpu('auth-token') > cpu('vault-unsealer'));
  });
});

describe('runtime declaration: checks', () => {
  it('parses Kubernetes quantities and refuses what is not one', () => {
    assert.equal(parseQuantity('250m'), 0.25);
    assert.equal(parseQuantity('128Mi'), 128 * 2 ** 20);
    assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
    assert.equal(parseQuantity('2'), 2);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('500M'), 5e8);
    for (const bad of ['', '128MB', '1.2.3', '-1', 'Mi', '12 Mi', '0x10', '250mi']) assert.equal(parseQuantity(bad), undefined, bad);
  });

  it('fails defineFunction at load on a bad quantity, pool, Node flag or probe, naming each', () => {
    const define = (runtime: RuntimeDeclaration) => () => defineFunction({ ...pushFunction, runtime });
    assert.throws(define({ resources: { requests: { cpu: 'half' } } }), /function auth-scim-push: runtime: resources\.requests\.cpu: "half" is not a Kubernetes quantity/);
    assert.throws(define({ resources: { limits: { memory: '256MB' } } }), /resources\.limits\.memory: "256MB" is not a Kubernetes quantity/);
    assert.throws(define({ resources: { limits: { memory: '256m' } } }), /"256m" is a fraction of a byte; did you mean 256Mi\?/);
    assert.throws(define({ resources: { requests: { memory: '512Mi' }, limits: { memory: '256Mi' } } }), /memory request 512Mi exceeds its limit 256Mi/);
    assert.throws(define({ resources: { requests: { gpu: '1' } as never } }), /unknown resource "gpu"/);
    assert.throws(define({ databasePool: 0 }), /databasePool must be an integer 1\.\.100/);
    assert.throws(define({ databasePool: 2.5 }), /databasePool must be an integer/);
    assert.throws(define({ nodeOptions: '--max-old-space-size=96 --expose-internals' }), /nodeOptions: --expose-internals is not allowed in NODE_OPTIONS/);
    assert.throws(define({ nodeOptions: '--max-old-space-size=512', resources: { limits: { memory: '256Mi' } } }), /--max-old-space-size=512 leaves no room under the memory limit 256Mi/);
    assert.throws(define({ probes: { readiness: { path: 'readyz' } } }), /probes\.readiness\.path "readyz" must be an absolute path/);
    assert.throws(define({ probes: { liveness: { periodSeconds: 0 } } }), /probes\.liveness\.periodSeconds must be an integer >= 1/);
    assert.throws(define({ probes: { liveness: { periodSeconds: 2, timeoutSeconds: 5 } } }), /timeoutSeconds exceeds periodSeconds/);
    assert.throws(define({ probes: { startup: {} } as never }), /unknown probe "startup"/);
    assert.doesNotThrow(define({ resources: { requests: { cpu: '0.5', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } }, nodeOptions: '--max-old-space-size=1024', databasePool: 100 }));
  });

  it('checks a hand-written declaration at generation too, against the default limits', () => {
    // The default memory limit is 256Mi: a request above it would never schedule.
    const decl: FunctionDeclaration = { ...pushFunction, runtime: { resources: { requests: { memory: '300Mi' } } } };
    assert.throws(
      () => checkDeclarations([decl], opts.resources.limits),
      (err: unknown) => err instanceof ManifestError && err.problems.includes('auth-scim-push: runtime: resources: memory request 300Mi exceeds its limit 256Mi'),
    );
  });

  it('refuses env declarations that would shadow the runtime variables', () => {
    for (const name of ['NODE_OPTIONS', 'ZENO_DB_POOL_MAX']) {
      const decl: FunctionDeclaration = { ...pushFunction, env: { [name]: { description: 'x', value: '1' } } };
      assert.throws(() => checkDeclarations([decl]), (err: unknown) => err instanceof ManifestError && err.problems.includes(`auth-scim-push: env ${name}: reserved, set by the platform`));
    }
  });
});
