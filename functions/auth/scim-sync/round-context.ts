// What the steps of one sync round share: the runtime, the tenant, the peer, and the report the
// round returns (and records in the audit trail).
import { driverError } from '#shared/db/errors';
import type { AuthRuntime } from '../core/runtime.js';
import type { SyncResourceType } from '../core/tombstones.js';

/** A change of the peer that was not taken here, and why; an admin resolves it, the next round retries it. */
export interface SyncConflict {
  type: SyncResourceType;
  key: string;
  /** `uniqueness`: the name belongs to another identity here; `cycle`: the membership would close a loop here; `pending`: a member is not here yet; `invalid`: the peer's copy is malformed. */
  kind: 'uniqueness' | 'cycle' | 'pending' | 'invalid';
  detail: string;
}

export interface RoundReport {
  /** Users and groups created or replaced from the peer. */
  applied: number;
  deleted: number;
  conflicts: SyncConflict[];
}

export interface RoundContext {
  rt: AuthRuntime;
  tenantId: string;
  tenantSlug: string;
  /** The audit actor: `scim-sync:<peer name>`. */
  actor: string;
  report: RoundReport;
}

/** A unique index refused the write (a name or externalId taken by another identity). */
export const isUniqueClash = (err: unknown) => (driverError(err) as { code?: string }).code === '23505';
