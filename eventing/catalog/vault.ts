// ZenoVault's event types. The vault publishes nothing; its types are its own schedules' ticks.
import { z } from 'zod';
import { defineEventType } from './define.js';

/** Fired by the vault api's schedule: revoke expired leases, rotate static database roles that are due. */
export const leasesScheduled = defineEventType({
  type: 'io.zenokube.vault.leases.scheduled',
  version: '1',
  description: 'Time to revoke expired leases and rotate the static database roles that are due.',
  schema: z.object({ schedule: z.string() }).loose(),
});

/** Fired by vault-remote-secret-sync's schedule: sync every RemoteSecret whose refresh interval has passed. */
const remoteSecretsScheduled = defineEventType({
  type: 'io.zenokube.vault.remote-secrets.scheduled',
  version: '1',
  description: 'Time to read again the vault paths of the RemoteSecrets whose refresh interval has passed (and catch API events that were missed).',
  schema: z.object({ schedule: z.string() }).loose(),
});

export const vaultEvents = [leasesScheduled, remoteSecretsScheduled] as const;
