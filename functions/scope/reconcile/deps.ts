// What a reconcile works with: the Kubernetes API, ZenoVault and ZenoAuth when configured, the lease identity.
import type { Logger } from '#shared/log/index';
import type { AuthApi } from './auth-api.js';
import type { KubeApi } from './kube.js';
import type { VaultApi } from './vault-api.js';

export interface Reconciler {
  kube: KubeApi;
  vault?: VaultApi;
  auth?: AuthApi;
  log: Logger;
  /** Where the per-object Leases live, and who this pod is. */
  leaseNamespace: string;
  holder: string;
  now: () => Date;
  /** Where applications reach the database server, when not the cluster's `-rw` Service (local mode). */
  databaseEndpoint?: { host: string; port: number };
  /** The API server as the reconciler reaches it and its CA (PEM): what the scoped kubeconfigs name. Unset: no kubeconfig is issued. */
  cluster?: { server: string; ca?: string };
}
