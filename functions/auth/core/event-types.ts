// The auth event type names, taken from the catalog so that a name is written once.
import * as ev from '#eventing/catalog/auth';

export const AUTH_EVENTS = {
  tenantCreated: ev.tenantCreated.type,
  tenantDeleted: ev.tenantDeleted.type,
  userCreated: ev.userCreated.type,
  userUpdated: ev.userUpdated.type,
  userDeleted: ev.userDeleted.type,
  groupCreated: ev.groupCreated.type,
  groupUpdated: ev.groupUpdated.type,
  groupDeleted: ev.groupDeleted.type,
  groupMembershipChanged: ev.groupMembershipChanged.type,
  loginSucceeded: ev.loginSucceeded.type,
  loginFailed: ev.loginFailed.type,
  clientCreated: ev.clientCreated.type,
  clientUpdated: ev.clientUpdated.type,
  clientDeleted: ev.clientDeleted.type,
  keyRotated: ev.keyRotated.type,
  refreshTokenReused: ev.refreshTokenReused.type,
  codeReused: ev.codeReused.type,
  tokenRevoked: ev.tokenRevoked.type,
  sessionRevoked: ev.sessionRevoked.type,
  backchannelLogoutRequested: ev.backchannelLogoutRequested.type,
  sessionNewDevice: ev.sessionNewDevice.type,
  mailRequested: ev.mailRequested.type,
  cleanupScheduled: ev.cleanupScheduled.type,
  samlMetadataScheduled: ev.samlMetadataScheduled.type,
} as const;
