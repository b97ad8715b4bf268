// Reads what one reconcile needs: the objects carrying the resource's owner or sharer label in the
// namespaces it uses, the vault policy, role and secrets it names, and its OAuth client.
import { FINALIZER, OWNER_LABEL, SHARER_PREFIX } from '#functions/scope/core/names';
import type { KubeObject } from '#functions/scope/core/objects';
import type { Observed } from '#functions/scope/core/observed';
import { planOf, readsOf } from '#functions/scope/core/plan';
import type { ScopeResource } from '#functions/scope/core/spec';
import type { Reconciler } from './deps.js';

/** The kinds we create in the resource's namespace, and in the database cluster's. */
const IN_NAMESPACE = [
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' },
  { apiVersion: 'vault.zenokube.io/v1alpha1', kind: 'RemoteSecret' },
];
const IN_DATABASE_NAMESPACE = [
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'postgresql.cnpg.io/v1', kind: 'DatabaseRole' },
  { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Database' },
];

export async function observe(r: Reconciler, resource: ScopeResource): Promise<Observed> {
  const plan = planOf(resource);
  const { names, spec } = plan;
  const reads = readsOf(plan);
  const uid = names.uid;
  const owner = `${OWNER_LABEL}=${uid}`;
  const byKey = new Map<string, KubeObject>();
  const add = (items: KubeObject[]) => {
    for (const o of items) byKey.set(`${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  };
  const lists: Promise<void>[] = [];
  if (names.ownsNamespace) lists.push(r.kube.list({ apiVersion: 'v1', kind: 'Namespace' }, owner).then(add));
  for (const namespace of reads.namespaces) {
    const kinds = namespace === names.namespace ? IN_NAMESPACE : [];
    const dbKinds = namespace === spec.database.clusterRef?.namespace ? IN_DATABASE_NAMESPACE : [];
    for (const k of [...kinds, ...dbKinds]) lists.push(r.kube.list({ ...k, namespace }, owner).then(add));
    for (const k of dbKinds.filter((d) => d.kind !== 'Secret')) lists.push(r.kube.list({ ...k, namespace }, `${SHARER_PREFIX}${uid}=true`).then(add));
  }
  await Promise.all(lists);
  const status = (resource.status ?? {}) as { vaultPath?: string; oauthClientId?: string };
  const observed: Observed = {
    resource,
    objects: [...byKey.values()],
    ...(r.databaseEndpoint ? { databaseEndpoint: r.databaseEndpoint } : {}),
    ...(r.cluster && r.kube.requestToken ? { cluster: { server: r.cluster.server, now: r.now().toISOString() } } : {}),
  };
  if (r.vault) {
    const vault = r.vault;
    const touched = spec.vault.enabled || status.vaultPath !== undefined || (resource.metadata.finalizers ?? []).includes(FINALIZER);
    const [policy, role, ...secrets] = touched
      ? await Promise.all([vault.readPolicy(names.vaultPolicy), vault.readRole(names.vaultRole), ...reads.vaultPaths.map((p) => vault.readSecret(p))])
      : [];
    observed.vault = {
      policies: policy !== undefined ? { [names.vaultPolicy]: policy as string } : {},
      roles: role ? { [names.vaultRole]: role as object } : {},
      secrets: Object.fromEntries(reads.vaultPaths.flatMap((p, i) => (secrets[i] ? [[p, secrets[i] as Record<string, string>]] : []))),
    };
  }
  if (r.auth) {
    const client = spec.oauth.enabled || status.oauthClientId !== undefined ? await r.auth.getClient(spec.oauth.tenant, names.oauthClientId) : undefined;
    observed.auth = { clients: client ? { [`${spec.oauth.tenant}/${names.oauthClientId}`]: client } : {} };
  }
  return observed;
}
