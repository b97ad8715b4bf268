// ZenoAuth's event types: what other functions can subscribe to. Payloads never carry secrets.
import { z } from 'zod';
import { defineEventType } from './define.js';

const tenant = z.object({ tenant: z.string() });
const actor = z.string().nullable();

const def = <S extends z.ZodType>(noun: string, verb: string, description: string, schema: S) =>
  defineEventType({ type: `io.zenokube.auth.${noun}.${verb}`, version: '1', description, schema });

export const tenantCreated = def('tenant', 'created', 'A tenant (issuer) was created.', tenant.extend({ displayName: z.string() }));
export const tenantDeleted = def('tenant', 'deleted', 'A tenant and everything in it were deleted.', tenant);
export const userCreated = def('user', 'created', 'A user was created.', tenant.extend({ userId: z.string(), username: z.string(), externalId: z.string().nullable() }));
export const userUpdated = def('user', 'updated', 'A user was changed (profile, password, active).', tenant.extend({ userId: z.string(), username: z.string(), active: z.boolean() }));
export const userDeleted = def('user', 'deleted', 'A user was deleted.', tenant.extend({ userId: z.string(), username: z.string() }));
export const groupCreated = def('group', 'created', 'A group was created.', tenant.extend({ groupId: z.string(), displayName: z.string(), externalId: z.string().nullable() }));
export const groupUpdated = def('group', 'updated', 'A group was renamed or re-keyed.', tenant.extend({ groupId: z.string(), displayName: z.string(), externalId: z.string().nullable() }));
export const groupDeleted = def('group', 'deleted', 'A group was deleted; its memberships went with it.', tenant.extend({ groupId: z.string(), displayName: z.string() }));
export const groupMembershipChanged = def('group', 'membership-changed', 'Direct members (users or nested groups) were added to or removed from a group.', tenant.extend({ groupId: z.string(), added: z.array(z.string()), removed: z.array(z.string()) }));
export const loginSucceeded = def('login', 'succeeded', 'A user signed in and a session began.', tenant.extend({ userId: z.string(), sessionId: z.string(), clientId: z.string().nullable() }));
export const loginFailed = def('login', 'failed', 'A sign-in attempt failed.', tenant.extend({ username: z.string(), reason: z.string() }));
export const clientCreated = def('client', 'created', 'An OAuth client was registered.', tenant.extend({ clientId: z.string(), actor }));
export const clientUpdated = def('client', 'updated', 'An OAuth client was changed.', tenant.extend({ clientId: z.string(), actor }));
export const clientDeleted = def('client', 'deleted', 'An OAuth client was deleted.', tenant.extend({ clientId: z.string(), actor }));
export const keyRotated = def('key', 'rotated', 'The signing keys of a tenant were rotated.', tenant.extend({ created: z.array(z.string()), retired: z.array(z.string()) }));
export const refreshTokenReused = def('refresh-token', 'reused', 'A rotated refresh token was presented again; its family was revoked.', tenant.extend({ clientId: z.string(), familyId: z.string(), userId: z.string().nullable() }));
export const codeReused = def('code', 'reused', 'An authorization code was presented twice; the tokens it issued were revoked.', tenant.extend({ clientId: z.string(), revokedFamilies: z.number() }));
export const tokenRevoked = def('token', 'revoked', 'A token was revoked (RFC 7009).', tenant.extend({ clientId: z.string(), kind: z.enum(['access_token', 'refresh_token']) }));
export const sessionNewDevice = def('session', 'new-device', 'A user signed in from a device they had not signed in from before (for a notification mail).', tenant.extend({ userId: z.string(), sessionId: z.string(), userAgent: z.string().nullable(), ip: z.string().nullable(), authenticator: z.string() }));
export const mailRequested = def('mail', 'requested', 'ZenoAuth asks for a mail to a user (template id and variables; ZenoMail renders and sends it).', tenant.extend({ template: z.string(), to: z.string(), userId: z.string(), variables: z.record(z.string(), z.string()) }));
export const sessionRevoked = def('session', 'revoked', 'A browser session ended (logout or revocation).', tenant.extend({ sessionId: z.string(), userId: z.string(), reason: z.string() }));
export const backchannelLogoutRequested = def(
  'backchannel-logout',
  'requested',
  'A client that got tokens in an ended session is to be sent a logout token (OIDC Back-Channel Logout 1.0 §2.5); one event per client, retried on its own.',
  tenant.extend({ clientId: z.string(), sessionId: z.string(), userId: z.string() }),
);

/** Fired by the admin function's schedule (PingSource payload); triggers the expired-rows clean-up. */
export const cleanupScheduled = def('cleanup', 'scheduled', 'Time to delete expired codes, requests, revocation marks and sessions.', z.object({ schedule: z.string() }).loose());
export const samlMetadataScheduled = def('saml-metadata', 'scheduled', 'Time to read the metadata URLs of SAML service providers again.', z.object({ schedule: z.string() }).loose());
export const scimPushScheduled = def('scim-push', 'scheduled', 'Time to retry the outbound SCIM pushes that are due.', z.object({ schedule: z.string() }).loose());
export const scimSyncScheduled = def('scim-sync', 'scheduled', 'Time for a sync round with each peer site (cross-site SCIM sync).', z.object({ schedule: z.string() }).loose());

export const authEvents = [
  tenantCreated, tenantDeleted, userCreated, userUpdated, userDeleted, groupCreated, groupUpdated, groupDeleted, groupMembershipChanged, loginSucceeded, loginFailed,
  clientCreated, clientUpdated, clientDeleted, keyRotated, refreshTokenReused, codeReused, tokenRevoked, sessionRevoked, backchannelLogoutRequested,
  sessionNewDevice, mailRequested, cleanupScheduled, scimPushScheduled, samlMetadataScheduled, scimSyncScheduled,
] as const;
