// The desired state of one resource: its spec with defaults, its names, and its objects by step.
// The executor reads what this names; the reconcile compares it with what was read.
import type { Step } from './actions.js';
import { oauthClient, vaultPolicy, vaultRole, type OAuthClientWanted, type VaultRole } from './external.js';
import { kubeconfigObjects, kubeconfigPath } from './kubeconfig.js';
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
      Kubeconfig: spec.vault.enabled ? kubeconfigObjects(names) : [],
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

/** What the executor must read besides the labelled objects: the namespaces to list in, the vault paths. */
export function readsOf(plan: Plan): { namespaces: string[]; vaultPaths: string[] } {
  const { names, spec } = plan;
  const namespaces = [names.namespace, ...(spec.database.clusterRef ? [spec.database.clusterRef.namespace] : [])];
  return { namespaces: [...new Set(namespaces)], vaultPaths: [`${names.vaultPath}/database`, `${names.vaultPath}/oauth`, kubeconfigPath(names)] };
}
