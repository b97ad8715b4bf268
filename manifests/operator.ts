// The Kubernetes side of an operator function (a declaration's `kubernetes`): the ApiServerSource
// that turns API events into CloudEvents posted to it, and least-privilege RBAC for both. The source
// runs as a service account of its own that may only read what it watches; the function's service
// account gets exactly its declared rules, cluster-wide ones in a ClusterRole, the rest in a Role
// of its own namespace.
// @see https://knative.dev/docs/eventing/sources/apiserversource/getting-started/
// @see https://kubernetes.io/docs/reference/access-authn-authz/rbac/
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import type { AccessRule, FunctionDeclaration, KubernetesDeclaration } from '#shared/function/define';
import { childName, functionLabels } from './names.js';
import type { ManifestOptions } from './options.js';
import { serviceRef } from './trigger.js';

const RBAC = 'rbac.authorization.k8s.io';

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

function policyRules(rules: readonly AccessRule[]): V1PolicyRule[] {
  return rules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs], ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}) }));
}

/** What the source's adapter reads: each watched resource, and the namespaces it selects across. */
function sourceRules(k: KubernetesDeclaration): V1PolicyRule[] {
  const byGroup = new Map<string, Set<string>>();
  for (const w of k.watches) {
    const g = groupOf(w.apiVersion);
    byGroup.set(g, (byGroup.get(g) ?? new Set()).add(w.resource));
  }
  byGroup.set('', (byGroup.get('') ?? new Set()).add('namespaces'));
  return [...byGroup].sort(([a], [b]) => a.localeCompare(b)).map(([g, res]) => ({ apiGroups: [g], resources: [...res].sort(), verbs: ['get', 'list', 'watch'] }));
}

function serviceAccount(name: string, labels: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, labels } } satisfies V1ServiceAccount;
}

function clusterAccess(name: string, account: string, rules: V1PolicyRule[], labels: Record<string, string>, opts: ManifestOptions) {
  return [
    { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name, labels }, rules } satisfies V1ClusterRole,
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: opts.namespace }],
    } satisfies V1ClusterRoleBinding,
  ];
}

/**
 * The objects of an operator function besides its Service: its ServiceAccount and roles, and its
 * ApiServerSource with the source's own ServiceAccount and read-only ClusterRole. ClusterRoles are
 * named `zenokube-<function>` since they are not namespaced.
 */
export function operatorManifests(decl: FunctionDeclaration, opts: ManifestOptions): Record<string, unknown>[] {
  const k = decl.kubernetes;
  if (!k) return [];
  const labels = functionLabels(decl, opts.version);
  const docs: Record<string, unknown>[] = [serviceAccount(decl.name, labels)];
  const cluster = k.rules.filter((r) => r.scope !== 'own');
  const own = k.rules.filter((r) => r.scope === 'own');
  if (cluster.length > 0) docs.push(...clusterAccess(childName('zenokube', decl.name), decl.name, policyRules(cluster), labels, opts));
  if (own.length > 0) {
    docs.push(
      { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name: decl.name, labels }, rules: policyRules(own) } satisfies V1Role,
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'RoleBinding',
        metadata: { name: decl.name, labels },
        roleRef: { apiGroup: RBAC, kind: 'Role', name: decl.name },
        subjects: [{ kind: 'ServiceAccount', name: decl.name, namespace: opts.namespace }],
      } satisfies V1RoleBinding,
    );
  }
  if (k.watches.length > 0) {
    const source = childName(decl.name, 'source');
    docs.push(serviceAccount(source, labels), ...clusterAccess(childName('zenokube', source), source, sourceRules(k), labels, opts));
    docs.push({
      apiVersion: 'sources.knative.dev/v1',
      kind: 'ApiServerSource',
      metadata: { name: source, labels },
      spec: {
        // Resource mode: the event carries the object, so a deleted object still names its owner.
        mode: 'Resource',
        serviceAccountName: source,
        // Every namespace (an empty selector selects all).
        namespaceSelector: { matchLabels: {} },
        resources: k.watches.map((w) => ({
          apiVersion: w.apiVersion,
          kind: w.kind,
          ...(w.labelExists ? { selector: { matchExpressions: [{ key: w.labelExists, operator: 'Exists' }] } } : {}),
        })),
        sink: { ref: serviceRef(decl.name) },
      },
    });
  }
  return docs;
}
