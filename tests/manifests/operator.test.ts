// The operators' Kubernetes side (manifests/operator.ts): one ApiServerSource each, and RBAC that
// grants what their code does and nothing more.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultOptions, generateManifests, readCrds, type Manifest } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import { defineFunction } from '#shared/function/define';
import { discoverFunctions, functionsDir } from '#shared/function/discover';

const root = projectRoot();

async function objectsOf(name: string): Promise<Manifest[]> {
  const decls = await discoverFunctions(functionsDir(root));
  return generateManifests(decls, defaultOptions('1.0.0'), readCrds(root)).objects.get(`functions/${name}.yaml`)!;
}
const find = (docs: Manifest[], kind: string, name: string) => docs.find((d) => d.kind === kind && (d.metadata as { name: string }).name === name) as any;
/** Every (group, resource, verb) a role grants, as `group/resource:verb`. */
const grants = (role: any) => (role.rules as any[]).flatMap((r) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${g}/${res}:${v}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}`)))).sort();

describe('operator manifests', () => {
  it('watches RemoteSecrets and only the Secrets the sync wrote, sending the objects to vault-remote-secret-sync', async () => {
    const docs = await objectsOf('vault-remote-secret-sync');
    const source = find(docs, 'ApiServerSource', 'vault-remote-secret-sync-source');
    assert.equal(source.spec.mode, 'Resource');
    assert.equal(source.spec.serviceAccountName, 'vault-remote-secret-sync-source');
    assert.deepEqual(source.spec.namespaceSelector, { matchLabels: {} });
    assert.deepEqual(source.spec.resources, [
      { apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret' },
      { apiVersion: 'v1', kind: 'Secret', selector: { matchExpressions: [{ key: 'vault.zenokube.io/remote-secret', operator: 'Exists' }] } },
    ]);
    assert.deepEqual(source.spec.sink, { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'vault-remote-secret-sync' } });
    const service = find(docs, 'Service', 'vault-remote-secret-sync');
    assert.equal(service.spec.template.spec.serviceAccountName, 'vault-remote-secret-sync');
  });

  it('gives the RemoteSecret sync exactly what it does: read RemoteSecrets, write their status and Secrets', async () => {
    const docs = await objectsOf('vault-remote-secret-sync');
    assert.deepEqual(grants(find(docs, 'ClusterRole', 'zenokube-vault-remote-secret-sync')), [
      '/secrets:create', '/secrets:delete', '/secrets:get', '/secrets:patch', '/secrets:update',
      'vault.zenokube.io/remotesecrets/status:patch', 'vault.zenokube.io/remotesecrets:get', 'vault.zenokube.io/remotesecrets:list',
    ]);
    assert.deepEqual(grants(find(docs, 'ClusterRole', 'zenokube-vault-remote-secret-sync-source')), [
      '/namespaces:get', '/namespaces:list', '/namespaces:watch', '/secrets:get', '/secrets:list', '/secrets:watch',
      'vault.zenokube.io/remotesecrets:get', 'vault.zenokube.io/remotesecrets:list', 'vault.zenokube.io/remotesecrets:watch',
    ]);
    const binding = find(docs, 'ClusterRoleBinding', 'zenokube-vault-remote-secret-sync');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'vault-remote-secret-sync', namespace: 'zenokube' }]);
    assert.equal(find(docs, 'Role', 'vault-remote-secret-sync'), undefined, 'no namespaced rights');
  });

  it('gives scope-reconcile its kinds, bind on the one ClusterRole it grants, and Leases in its own namespace only', async () => {
    const docs = await objectsOf('scope-reconcile');
    const cluster = grants(find(docs, 'ClusterRole', 'zenokube-scope-reconcile'));
    assert.ok(cluster.includes('rbac.authorization.k8s.io/clusterroles:bind[edit]'));
    assert.ok(!cluster.some((g) => g.startsWith('coordination.k8s.io/')), 'no cluster-wide Leases');
    assert.ok(!cluster.some((g) => g.endsWith(':update') || g.endsWith(':watch') || g.includes('*')), 'no update, watch or wildcard');
    assert.deepEqual(grants(find(docs, 'Role', 'scope-reconcile')), ['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:delete', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:patch']);
    const env = find(docs, 'Service', 'scope-reconcile').spec.template.spec.containers[0].env as { name: string; value?: string }[];
    assert.equal(env.find((e) => e.name === 'ZENO_SCOPE_LEASE_NAMESPACE')?.value, 'zenokube', 'the Role’s namespace');
    const source = find(docs, 'ApiServerSource', 'scope-reconcile-source');
    assert.deepEqual(source.spec.resources.slice(0, 2), [{ apiVersion: 'scope.zenokube.io/v1alpha1', kind: 'ZenoScope' }, { apiVersion: 'scope.zenokube.io/v1alpha1', kind: 'ZenoApp' }]);
    assert.ok(source.spec.resources.slice(2).every((r: any) => r.selector.matchExpressions[0].key === 'scope.zenokube.io/owner-uid'));
  });

  it('refuses a wildcard grant in a declaration', () => {
    assert.throws(
      () => defineFunction({ name: 'vault-x', product: 'vault', description: 'x', routes: [], scaling: { minScale: 0, maxScale: 1, containerConcurrency: 1, timeoutSeconds: 1 }, kubernetes: { watches: [], rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['*'] }] }, load: async () => ({}) as never }),
      /wildcard/,
    );
  });
});
