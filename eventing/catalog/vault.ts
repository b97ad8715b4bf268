// ZenoVault's event types. The vault publishes nothing; its one type is its own schedule's tick.
import { z } from 'zod';
import { defineEventType } from './define.js';

/** Fired by the vault api's schedule: revoke expired leases, rotate static database roles that are due. */
export const leasesScheduled = defineEventType({
  type: 'io.zenokube.vault.leases.scheduled',
  version: '1',
  description: 'Time to revoke expired leases and rotate the static database roles that are due.',
  schema: z.object({ schedule: z.string() }).loose(),
});

export const vaultEvents = [leasesScheduled] as const;
