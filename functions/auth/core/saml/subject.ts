// Who the assertion speaks of: the NameID in the SP's format (SAML Core §8.3) and the attributes of
// the SP's map, the groups flattened through nesting.
import { createHmac } from 'node:crypto';
import type { Queryable } from '#shared/db/index';
import { ACR } from '../acr.js';
import { randomHandle } from '../crypto.js';
import { groupNames } from '../groups-claim.js';
import type { SamlServiceProvider, User } from '../schema.js';
import { AUTHN_CONTEXT, NAMEID_FORMAT } from './constants.js';
import type { SamlAttribute } from './response.js';
import { SamlError } from './saml-error.js';

/**
 * The NameID of `user` for `sp`. Persistent identifiers are pairwise: an HMAC of the tenant, the SP's
 * entity id and the user id, so two SPs cannot correlate a user by it (SAML Core §8.3.7: "a
 * different value for each relying party"), and it stays the same for one SP across sign-ins.
 */
export function nameIdFor(format: string, user: User, sp: SamlServiceProvider, pairwiseKey: Buffer): string {
  switch (format) {
    case NAMEID_FORMAT.persistent:
      return createHmac('sha256', pairwiseKey).update(`${sp.tenantId}\n${sp.entityId}\n${user.id}`).digest('base64url');
    case NAMEID_FORMAT.email:
      if (!user.email) throw new SamlError('invalid_name_id_policy', 'The user has no e-mail address to identify them with.');
      return user.email;
    case NAMEID_FORMAT.transient:
      return `_${randomHandle(24)}`;
    default:
      return user.username;
  }
}

/** The SP's attribute map applied to the user; `groups` are the names of every group, direct or inherited. */
export async function attributesFor(q: Queryable, user: User, sp: SamlServiceProvider): Promise<SamlAttribute[]> {
  const needsGroups = sp.attributeMap.some((a) => a.source === 'groups');
  const groups = needsGroups ? await groupNames(q, user.tenantId, user.id) : [];
  const value = (source: string): string[] => {
    switch (source) {
      case 'id':
        return [user.id];
      case 'username':
        return [user.username];
      case 'email':
        return user.email ? [user.email] : [];
      case 'name':
        return user.name ? [user.name] : [];
      case 'given_name':
        return user.givenName ? [user.givenName] : [];
      case 'family_name':
        return user.familyName ? [user.familyName] : [];
      case 'external_id':
        return user.externalId ? [user.externalId] : [];
      case 'groups':
        return groups;
      default:
        return [];
    }
  };
  return sp.attributeMap
    .map((a) => ({ name: a.name, friendlyName: a.friendlyName, values: value(a.source) }))
    .filter((a) => a.values.length > 0);
}

/** AuthnContextClassRef from the session's acr: a second factor, or a password over TLS. */
export const authnContextFor = (acr: string) => (acr === ACR.mfa ? AUTHN_CONTEXT.mfa : AUTHN_CONTEXT.password);
