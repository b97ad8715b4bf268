// The desired state of one resource: its spec with defaults, its names, and its objects by step.
// The executor reads what this names; the reconcile compares it with what was read.
import { refOf, type Ref, type Step } from './actions.js';
import { oauthClient, vaultPolicy, vaultRole, type OAuthClientWanted, type VaultRole } from './external.js';
import { namesOf, type ScopeNames } from './names.js';
import { databaseObjects, monitoringObjects, namespaceObjects, passwordSecret, remoteSecretObject, routeObjects, type KubeObject } from './objects.js';
import { specProblems, withDefaults, type ScopeResource, type ScopeSpec } from './spec.js';

export interface Plan {
  spec: ScopeSpec;
  names: ScopeNames;
  problems: string[];
  objects: Readonly<Record<Step, KubeObject[]>>;
  passwordSecret: KubeObject | undefined;
  policy: string;
  role: VaultRole;
  oauth: OAuthClientWanted | undefined;
}

export function planOf(resource: ScopeResource): Plan {
  const spec = withDefaults(resource.spec);
  const names = namesOf(resource, spec);
  return {
    spec,
    names,
    problems: specProblems(spec),
    objects: {
      Namespace: namespaceObjects(names),
      Database: databaseObjects(names, spec),
      Vault: [],
      Secrets: spec.database.enabled && spec.vault.enabled ? [remoteSecretObject(names)] : [],
      Route: routeObjects(names, spec),
      OAuthClient: [],
      Monitoring: monitoringObjects(names, spec),
    },
    passwordSecret: passwordSecret(names, spec),
    policy: vaultPolicy(names),
    role: vaultRole(names, spec),
    oauth: oauthClient(names, spec),
  };
}

/**
 * What the executor must read for a reconcile: the objects the plan names (the namespace's direct
 * credentials Secret and OAuth Secret included), the namespaces to list by owner label, the vault
 * paths and the OAuth client.
 */
export function readsOf(plan: Plan): { refs: Ref[]; namespaces: string[]; vaultPaths: string[] } {
  const { names, spec } = plan;
  const refs = [...Object.values(plan.objects).flat(), ...(plan.passwordSecret ? [plan.passwordSecret] : [])].map(refOf);
  refs.push({ apiVersion: 'v1', kind: 'Secret', namespace: names.namespace, name: names.databaseSecret }, { apiVersion: 'v1', kind: 'Secret', namespace: names.namespace, name: names.oauthSecret });
  if (names.ownsNamespace) refs.push({ apiVersion: 'v1', kind: 'Namespace', name: names.namespace });
  const namespaces = [names.namespace, ...(spec.database.clusterRef ? [spec.database.clusterRef.namespace] : [])];
  return { refs, namespaces: [...new Set(namespaces)], vaultPaths: [`${names.vaultPath}/database`, `${names.vaultPath}/oauth`] };
}
