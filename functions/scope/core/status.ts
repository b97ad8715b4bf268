// What one reconcile pass returns: its actions and the status it reports.
import type { Action } from './actions.js';
import type { Condition } from './conditions.js';

type Phase = 'Provisioning' | 'Ready' | 'Failed' | 'Deleting';

export interface ScopeStatus {
  observedGeneration?: number;
  phase: Phase;
  namespace: string;
  databaseSecret?: string;
  vaultPath?: string;
  oauthClientId?: string;
  conditions: Condition[];
}

export interface ReconcileResult {
  actions: Action[];
  status: ScopeStatus;
  /** True when nothing is left to do: the world holds the spec (or the resource is gone). */
  done: boolean;
}
