// What the pure reconcile asks the executor to do, in order. Each action names the provisioning
// step it belongs to, so a failure is reported on that step's condition.
import type { OAuthClientWanted, VaultRole } from './external.js';
import type { KubeObject } from './objects.js';

/** The provisioning steps in dependency order; teardown runs them in reverse. */
export const STEPS = ['Namespace', 'Database', 'Vault', 'Kubeconfig', 'Secrets', 'Route', 'OAuthClient', 'Monitoring'] as const;
export type Step = (typeof STEPS)[number];

/** The condition type that reports a step. */
export const CONDITION_OF: Readonly<Record<Step, string>> = {
  Namespace: 'NamespaceReady',
  Database: 'DatabaseReady',
  Vault: 'VaultReady',
  Kubeconfig: 'KubeconfigReady',
  Secrets: 'SecretsReady',
  Route: 'RouteReady',
  OAuthClient: 'OAuthClientReady',
  Monitoring: 'MonitoringReady',
};

export interface Ref {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export const refOf = (o: KubeObject): Ref => ({ apiVersion: o.apiVersion, kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name });
export const refKey = (r: Ref): string => `${r.apiVersion}/${r.kind}/${r.namespace ?? ''}/${r.name}`;

/** Where an OAuth client's secret goes: a vault KV path, or a Secret in the namespace. */
export type SecretDestination = { vaultPath: string } | { secret: KubeObject };

export type Action =
  | { type: 'addFinalizer' }
  | { type: 'removeFinalizer' }
  /** Server-side apply; `force` takes over fields another manager set (never on a shared object). */
  | { type: 'apply'; step: Step; object: KubeObject; force: boolean }
  /** Creates the object only when absent, each `generate` key of its data a fresh random value. */
  | { type: 'create'; step: Step; object: KubeObject; generate: string[] }
  /** Deletes; with `resourceVersion`, only that version (a delete precondition). */
  | { type: 'delete'; step: Step; ref: Ref; resourceVersion?: string }
  /** Removes one label from a shared object, only at that version. */
  | { type: 'unshare'; step: Step; ref: Ref; label: string; resourceVersion: string }
  | { type: 'vaultPutPolicy'; step: Step; name: string; policy: string }
  | { type: 'vaultDeletePolicy'; step: Step; name: string }
  | { type: 'vaultPutRole'; step: Step; name: string; role: VaultRole }
  | { type: 'vaultDeleteRole'; step: Step; name: string }
  | { type: 'vaultPutSecret'; step: Step; path: string; data: Record<string, string> }
  | { type: 'vaultDeleteSecret'; step: Step; path: string }
  /** A token for the ServiceAccount from the TokenRequest API, and the kubeconfig holding it written to the vault at `path`. */
  | { type: 'kubeconfigIssue'; step: Step; namespace: string; serviceAccount: string; serviceAccountUid: string; expirationSeconds: number; path: string; context: string }
  | { type: 'oauthCreateClient'; step: Step; client: OAuthClientWanted; deliver: SecretDestination }
  | { type: 'oauthRotateSecret'; step: Step; client: OAuthClientWanted; deliver: SecretDestination }
  | { type: 'oauthDeleteClient'; step: Step; tenant: string; clientId: string };
