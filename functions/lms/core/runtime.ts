// What ZenoLMS's rules run on: the database, the key store, the event publisher, the clock and
// the issuer of a tenant. Built once per function (api/app.ts), passed to every rule.
import type { Database } from '#shared/db/index';
import type { EventPublisher } from '#shared/events/publisher';
import type { KeyHasher } from './crypto.js';
import type { KeyStore } from './keys.js';

export interface LmsRuntime {
  readonly database: Database;
  readonly keys: KeyStore;
  readonly events: EventPublisher;
  /** How license keys are stored and looked up. */
  readonly hashKey: KeyHasher;
  /** The clock every rule reads (tests control it). */
  now(): Date;
  /** `{base}/lms/{tenant}`: the `iss` of what the tenant's products sign. */
  issuer(tenant: string): string;
}

/** Who did an admin action and from where, as the audit trail records it. */
export interface Actor {
  sub: string | null;
  ip?: string | undefined;
  requestId?: string | undefined;
}
