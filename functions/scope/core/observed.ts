// What the executor read before a reconcile: the resource, the objects it owns or shares, and the
// state of its vault policy, role and secrets and of its OAuth client. The reconcile reads nothing else.
import type { VaultRole } from './external.js';
import type { KubeObject } from './objects.js';
import type { ScopeResource } from './spec.js';

export interface ObservedVault {
  /** Policy text by name, for the names asked about (absent: no such policy). */
  policies: Record<string, string>;
  roles: Record<string, Partial<VaultRole>>;
  /** KV v2 data by path (below the `secret/` mount). */
  secrets: Record<string, Record<string, string>>;
}

export interface ObservedAuth {
  /** By `tenant/clientId`. */
  clients: Record<string, { redirectUris: string[] }>;
}

export interface Observed {
  resource: ScopeResource;
  /** Every object the desired state names, and every one carrying this resource's owner or sharer label. */
  objects: KubeObject[];
  /** Undefined when the reconciler has no vault to talk to. */
  vault?: ObservedVault;
  /** Undefined when the reconciler has no ZenoAuth to talk to. */
  auth?: ObservedAuth;
  /** Where applications reach the database server, when not the cluster's `-rw` Service (local mode: the local PostgreSQL). */
  databaseEndpoint?: { host: string; port: number };
  /** The API server the reconciler talks to (and issues kubeconfigs for), and the time it observed; undefined without one (local mode). */
  cluster?: { server: string; now: string };
}
